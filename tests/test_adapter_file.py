import os
import random
import re
import pickle

import pytest
import torch

from instantid_testkit.adapter_fixtures import SDXL_HIDDEN, TINY, adapter_state, save_bin, save_safetensors
from instantid_core.files.adapter_file import check_finite, load_adapter, load_instantid_model
from instantid_core.errors import AdapterFormatError, InputValueError
from instantid_core.compute.identity import compute_identity_kv, project_identity
from instantid_core.compute.instantid_model import InstantIDModel
from instantid_core.compute.resampler import ResamplerConfig

HIDDEN = (32, 32, 64)


@pytest.fixture(params=["bin", "safetensors"])
def adapter_path(request, tmp_path):
    state = adapter_state(HIDDEN)
    save = save_bin if request.param == "bin" else save_safetensors
    return save(state, tmp_path / f"ip-adapter.{request.param}"), state


def test_both_formats_load_with_sizes_inferred(adapter_path):
    path, state = adapter_path
    w = load_adapter(path)
    assert w.config == ResamplerConfig(**TINY)
    assert w.layer_hidden_sizes == {1: 32, 3: 32, 5: 64}
    model = InstantIDModel.from_weights(w)
    sd = model.state_dict()
    for k, v in state["image_proj"].items():
        assert torch.equal(sd[f"image_proj.{k}"], v)
    for k, v in state["ip_adapter"].items():
        assert torch.equal(sd[f"ip_adapter.{k}"], v)


def test_model_state_dict_is_the_flattened_file_layout(tmp_path):
    path = save_safetensors(adapter_state(HIDDEN), tmp_path / "a.safetensors")
    from safetensors.torch import load_file
    assert set(load_instantid_model(path).state_dict()) == set(load_file(str(path)))


def test_half_file_keeps_its_dtype(tmp_path):
    path = save_safetensors(adapter_state(HIDDEN, dtype=torch.bfloat16), tmp_path / "a.safetensors")
    assert load_instantid_model(path).weight_dtype() == torch.bfloat16


def test_real_size_layout_matches_design_card():
    """Key names and shapes of the real 1.7 GB file (DESIGN §2), checked without allocating it."""
    with torch.device("meta"):
        model = InstantIDModel(ResamplerConfig(), {2 * i + 1: h for i, h in enumerate(SDXL_HIDDEN)})
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes["image_proj.latents"] == (1, 16, 1280)
    assert shapes["image_proj.proj_in.weight"] == (1280, 512)
    assert shapes["image_proj.proj_out.weight"] == (2048, 1280)
    assert shapes["image_proj.norm_out.weight"] == (2048,)
    for i in range(4):
        p = f"image_proj.layers.{i}."
        assert shapes[p + "0.norm1.weight"] == shapes[p + "0.norm2.bias"] == (1280,)
        assert shapes[p + "0.to_q.weight"] == (1280, 1280)
        assert shapes[p + "0.to_kv.weight"] == (2560, 1280)
        assert shapes[p + "0.to_out.weight"] == (1280, 1280)
        assert shapes[p + "1.0.weight"] == shapes[p + "1.0.bias"] == (1280,)
        assert shapes[p + "1.1.weight"] == (5120, 1280)
        assert shapes[p + "1.3.weight"] == (1280, 5120)
    ip = [k for k in shapes if k.startswith("ip_adapter.")]
    assert len(ip) == 140
    assert shapes["ip_adapter.1.to_k_ip.weight"] == (640, 2048)
    assert shapes["ip_adapter.139.to_v_ip.weight"] == (1280, 2048)
    n_params = sum(v.numel() for v in model.state_dict().values())
    assert 1.6e9 < n_params * 4 < 1.8e9  # ~1.7 GB in fp32, as published
    kv_params = sum(v.numel() for k, v in model.state_dict().items() if k.startswith("ip_adapter."))
    assert 3.3e8 < kv_params < 3.5e8


def _expect_error(path, *fragments):
    with pytest.raises(AdapterFormatError) as exc:
        load_adapter(path)
    for f in fragments:
        assert f in str(exc.value), str(exc.value)
    return str(exc.value)


def test_missing_and_empty_files(tmp_path):
    _expect_error(tmp_path / "nope.bin", "not found", "models/instantid")
    (tmp_path / "empty.bin").write_bytes(b"")
    _expect_error(tmp_path / "empty.bin", "empty")


@pytest.mark.parametrize("fmt", ["bin", "safetensors"])
def test_truncated_file(tmp_path, fmt):
    save = save_bin if fmt == "bin" else save_safetensors
    path = save(adapter_state(HIDDEN), tmp_path / f"a.{fmt}")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _expect_error(path, "damaged or only partly downloaded")


@pytest.mark.parametrize("seed", range(40))
def test_random_bytes(tmp_path, seed):
    # Seeded: random bytes fail inside torch with different exception types (UnpicklingError, IndexError, ...);
    # every one must read as a damaged file, never as "contains code".
    noise = random.Random(seed).randbytes(4096)
    path = tmp_path / "a.safetensors"
    path.write_bytes(noise)
    _expect_error(path, "could not be read")
    path = tmp_path / "a.bin"  # not a pickle at all: damaged, not "contains code"
    path.write_bytes(b"\x80\x02" + noise)
    with pytest.raises(AdapterFormatError) as exc:
        load_adapter(path)
    assert "not a readable torch file" in str(exc.value) and "contains code" not in str(exc.value)


@pytest.mark.parametrize("fmt", ["bin", "safetensors"])
@pytest.mark.parametrize("where", ["image_proj.proj_out.weight", "image_proj.latents", "ip_adapter.3.to_k_ip.weight",
                                   "ip_adapter.5.to_v_ip.weight"])
def test_non_finite_weights_are_refused_at_first_use_naming_the_tensor(tmp_path, fmt, where):
    """Loading reads no weight; the first projection / K/V that a bad weight spoils names it (never black output),
    and the doctor's full check names it too."""
    state = adapter_state(HIDDEN)
    half, key = where.split(".", 1)
    state[half][key] = state[half][key].clone()
    state[half][key].view(-1)[7] = float("inf") if "to_k" in key else float("nan")
    save = save_bin if fmt == "bin" else save_safetensors
    path = save(state, tmp_path / f"a.{fmt}")
    model = load_instantid_model(path)
    with pytest.raises(AdapterFormatError) as exc:
        tokens = project_identity(model, torch.randn(1, 512) * 20, "cpu", torch.float32)
        compute_identity_kv(model, tokens, "cpu", torch.float32)
    for fragment in (path.name, where, "NaN or infinite", "ip-adapter.bin"):
        assert fragment in str(exc.value), str(exc.value)
    assert exc.value.input_name == "instantid"  # the node input that carries the model at the point of use
    with pytest.raises(AdapterFormatError, match=re.escape(where)):
        check_finite(load_adapter(path))


def test_finite_weights_that_overflow_in_half_precision_are_not_blamed_on_the_file(model_with_huge_layer):
    model, tokens = model_with_huge_layer
    with pytest.raises(InputValueError) as exc:
        compute_identity_kv(model, tokens, "cpu", torch.float16)
    assert "layer 3" in str(exc.value) and "float32" in str(exc.value) and "damaged" not in str(exc.value)
    kv = compute_identity_kv(model, tokens, "cpu", torch.float32)  # fine in float32
    assert torch.isfinite(kv.layers[3].k_cond).all()


@pytest.fixture
def model_with_huge_layer(tmp_path):
    state = adapter_state(HIDDEN)
    state["ip_adapter"]["3.to_k_ip.weight"] = state["ip_adapter"]["3.to_k_ip.weight"] * 1e6  # finite, > fp16 max
    model = load_instantid_model(save_safetensors(state, tmp_path / "a.safetensors"))
    return model, project_identity(model, torch.randn(1, 512) * 20, "cpu", torch.float32)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="resident memory is read from /proc (Linux)")
@pytest.mark.parametrize("fmt", ["bin", "safetensors"])
def test_loading_reads_no_weights(tmp_path, fmt):
    """The loader must stay lazy: a memory-mapped file is only paged in by what uses it, so loading a 256 MB
    adapter may not raise this process's resident memory by more than a fraction of it."""
    state = adapter_state(HIDDEN)
    state["ip_adapter"] = {f"{2 * i + 1}.to_{w}_ip.weight": torch.randn(65536, 96) for i in range(5) for w in "kv"}
    path = (save_bin if fmt == "bin" else save_safetensors)(state, tmp_path / f"big.{fmt}")  # 10 x 25 MB
    size = path.stat().st_size
    del state
    before = _rss()
    model = load_instantid_model(path)
    grown = _rss() - before
    assert grown < 0.25 * size, f"loading {size >> 20} MB made {grown >> 20} MB resident: the loader read weights"
    assert model.layer_hidden_sizes[9] == 65536


def _rss() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS"))


def test_integer_identity_weights_are_refused(tmp_path):
    state = adapter_state(HIDDEN)
    state["ip_adapter"]["1.to_v_ip.weight"] = state["ip_adapter"]["1.to_v_ip.weight"].to(torch.int8)
    _expect_error(save_bin(state, tmp_path / "a.bin"), "ip_adapter.1.to_v_ip.weight is torch.int8", "floating point")


def test_pickle_with_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "ip-adapter.bin"
    with open(path, "wb") as f:
        pickle.dump({"image_proj": Evil()}, f)
    _expect_error(path, "refused", "contains code")
    path2 = tmp_path / "zip.bin"
    torch.save({"image_proj": Evil(), "ip_adapter": {}}, str(path2))
    _expect_error(path2, "refused")


def test_ip_adapter_plus_file(tmp_path):
    plus = dict(TINY, embedding_dim=1280)
    state = adapter_state(HIDDEN, size=plus)
    _expect_error(save_bin(state, tmp_path / "ip-adapter-plus_sdxl.bin"), "IP-Adapter Plus", "512-d")


def test_faceid_files(tmp_path):
    state = {"image_proj": {"proj.0.weight": torch.zeros(4, 512), "norm.weight": torch.ones(4)},
             "ip_adapter": {"1.to_k_ip.weight": torch.zeros(4, 4)}}
    _expect_error(save_bin(state, tmp_path / "faceid.bin"), "FaceID")
    state = adapter_state(HIDDEN)
    state["ip_adapter"]["1.to_q_lora.down.weight"] = torch.zeros(4, 4)
    _expect_error(save_bin(state, tmp_path / "faceid2.bin"), "FaceID")


def test_plain_ip_adapter(tmp_path):
    state = {"image_proj": {"proj.weight": torch.zeros(8, 4), "proj.bias": torch.zeros(8),
                            "norm.weight": torch.ones(4), "norm.bias": torch.zeros(4)},
             "ip_adapter": {"1.to_k_ip.weight": torch.zeros(4, 4), "1.to_v_ip.weight": torch.zeros(4, 4)}}
    _expect_error(save_bin(state, tmp_path / "ip-adapter_sdxl.bin"), "plain IP-Adapter")


def test_controlnet_and_checkpoint_files(tmp_path):
    from safetensors.torch import save_file
    cn = tmp_path / "diffusion_pytorch_model.safetensors"
    save_file({"controlnet_cond_embedding.conv_in.weight": torch.zeros(2, 3, 3, 3)}, str(cn))
    _expect_error(cn, "ControlNet", "models/controlnet")
    ck = tmp_path / "sdxl.safetensors"
    save_file({"model.diffusion_model.out.0.weight": torch.zeros(2)}, str(ck))
    _expect_error(ck, "checkpoint", "models/checkpoints")


def test_missing_and_extra_layers(tmp_path):
    state = adapter_state(HIDDEN)
    del state["ip_adapter"]["3.to_k_ip.weight"], state["ip_adapter"]["3.to_v_ip.weight"]
    _expect_error(save_bin(state, tmp_path / "gap.bin"), "missing [3]")
    state = adapter_state(HIDDEN)
    del state["ip_adapter"]["5.to_v_ip.weight"]
    _expect_error(save_bin(state, tmp_path / "half.bin"), "layer 5 lacks its to_v_ip")
    state = adapter_state(HIDDEN)
    state["ip_adapter"]["7.extra.weight"] = torch.zeros(2)
    _expect_error(save_bin(state, tmp_path / "extra.bin"), "unexpected key ip_adapter.7.extra.weight")
    state = adapter_state(HIDDEN)
    del state["image_proj"]["layers.1.1.3.weight"]
    _expect_error(save_bin(state, tmp_path / "proj.bin"), "layers.1.1.3.weight is missing")
    state = adapter_state(HIDDEN)
    state["image_proj"]["layers.0.0.to_q.bias"] = torch.zeros(128)
    _expect_error(save_bin(state, tmp_path / "proj2.bin"), "unexpected image_proj keys")


def test_wrong_shapes(tmp_path):
    state = adapter_state(HIDDEN)
    state["ip_adapter"]["3.to_v_ip.weight"] = torch.zeros(32, 7)
    _expect_error(save_bin(state, tmp_path / "s.bin"), "layer 3 weights have shapes")
    state = adapter_state(HIDDEN)
    state["image_proj"]["proj_out.bias"] = torch.zeros(5)
    _expect_error(save_bin(state, tmp_path / "s2.bin"), "proj_out.bias has shape (5,)")


def test_unrelated_dict(tmp_path):
    path = tmp_path / "x.bin"
    torch.save({"foo": torch.zeros(1)}, str(path))
    _expect_error(path, "expected the sections 'image_proj' and 'ip_adapter'")
    torch.save([torch.zeros(1)], str(path))
    _expect_error(path, "not a dict")
