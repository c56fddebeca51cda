import pytest
import torch

from instantid_core.compute.precision import (IDENTITY_KV, PROJECTION, PrecisionMode, PrecisionPolicy,
                                      attention_compute_dtype, run_in_dtype)


@pytest.mark.parametrize("mode", list(PrecisionMode))
@pytest.mark.parametrize("half", ["fp16", "bf16"])
def test_cpu_is_always_float32(mode, half):
    policy = PrecisionPolicy.parse(mode.value, half)
    for kind in (PROJECTION, IDENTITY_KV):
        assert policy.compute_dtype(kind, torch.device("cpu")) == torch.float32


def test_gpu_table(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    auto = PrecisionPolicy.parse("auto", "bf16")
    cuda = torch.device("cuda")
    assert auto.compute_dtype(PROJECTION, cuda) == torch.float16  # no bf16 on this GPU -> fp16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert auto.compute_dtype(PROJECTION, cuda) == torch.bfloat16
    assert PrecisionPolicy.parse("float32").compute_dtype(IDENTITY_KV, cuda) == torch.float32
    mps = torch.device("mps")
    assert auto.compute_dtype(PROJECTION, mps) == torch.float32  # black images in fp16 on MPS
    assert PrecisionPolicy.parse("auto").compute_dtype(IDENTITY_KV, mps) == torch.float16
    assert PrecisionPolicy.parse("half_on_gpu").compute_dtype(PROJECTION, mps) == torch.float16
    assert auto.compute_dtype(PROJECTION, torch.device("xpu")) == torch.float32


def test_placement_follows_the_weights_unless_the_mode_says_otherwise():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    keep = PrecisionPolicy.parse("keep_on_cpu")
    assert keep.compute_device(PROJECTION, cuda, cuda) == cpu
    assert keep.describe(PROJECTION, cuda, cuda) == "projection      : cpu / float32"
    assert PrecisionPolicy().compute_device(IDENTITY_KV, cuda, cuda).type == "cuda"
    assert PrecisionPolicy().compute_device(PROJECTION, cpu, cuda) == cpu  # auto: where the weights are
    assert PrecisionPolicy.parse("half_on_gpu").compute_device(PROJECTION, cpu, cuda) == cuda
    assert PrecisionPolicy.parse("float32").placement(PROJECTION, cpu, cuda) == (cpu, torch.float32)


def test_identity_attention_computes_in_float32_on_the_cpu_only():
    assert attention_compute_dtype(torch.device("cpu"), torch.float16) == torch.float32
    assert attention_compute_dtype(torch.device("cuda"), torch.bfloat16) == torch.bfloat16


def test_bad_arguments():
    with pytest.raises(ValueError):
        PrecisionPolicy.parse("fastest")
    with pytest.raises(ValueError):
        PrecisionPolicy.parse("auto", "fp8")
    with pytest.raises(ValueError):
        PrecisionPolicy().compute_dtype("unet", torch.device("cpu"))


@pytest.mark.parametrize("stored", [torch.float16, torch.bfloat16])
def test_run_in_dtype_computes_in_float32_without_touching_module(stored):
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.LayerNorm(32), torch.nn.Linear(32, 8))
    half = ref.to(stored)
    ref32 = {k: v.float() for k, v in half.state_dict().items()}
    seen = []
    for m in half.modules():
        if not isinstance(m, torch.nn.Sequential):
            m.register_forward_hook(lambda m, i, o: seen.append((i[0].dtype, o.dtype)))
    x = torch.randn(4, 16, dtype=stored)
    out = run_in_dtype(half, "cpu", torch.float32, x)
    assert seen == [(torch.float32, torch.float32)] * 3
    assert all(p.dtype == stored for p in half.parameters())
    expected = torch.func.functional_call(half.float(), ref32, (x.float(),))
    assert torch.equal(out, expected)
