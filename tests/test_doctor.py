import re

import torch
from safetensors.torch import save_file

from instantid_testkit.adapter_fixtures import adapter_state, save_bin
from instantid_core.files.doctor import OK, PROBLEM, WARN, run_doctor
from instantid_core.files.model_catalog import files_for


def _folders(tmp):
    d = {k: tmp / k for k in ("instantid", "controlnet", "insightface", "checkpoints")}
    for p in d.values():
        p.mkdir()
    return d


def _run(d, **kw):
    return run_doctor([d["instantid"]], [d["controlnet"]], [d["insightface"]], [d["checkpoints"]], **kw)


def _by(report):
    return {c.what: c for c in report.checks}


def test_empty_folders_every_problem_says_the_fix(tmp_path):
    d = _folders(tmp_path)
    r = _run(d)
    assert not r.ok
    c = _by(r)
    assert c["InstantID adapter"].status == PROBLEM and "ip-adapter.bin" in c["InstantID adapter"].fix
    assert str(d["instantid"]) in c["InstantID adapter"].fix
    assert c["IdentityNet ControlNet"].status == PROBLEM and "Load ControlNet Model" in c["IdentityNet ControlNet"].fix
    assert c["antelopev2 face models"].status == PROBLEM
    assert c["SDXL checkpoint"].status == WARN
    assert "[FAIL]" in r.text() and "fix:" in r.text()


def test_everything_present(tmp_path):
    d = _folders(tmp_path)
    save_bin(adapter_state((32, 64)), d["instantid"] / "ip-adapter.bin")
    save_file({"controlnet_cond_embedding.conv_in.weight": torch.zeros(16, 3, 3, 3),
               "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight": torch.zeros(4, 2048),
               "add_embedding.linear_1.weight": torch.zeros(4, 2816)}, str(d["controlnet"] / "identitynet.safetensors"))
    save_file({"model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight": torch.zeros(4, 2048)},
              str(d["checkpoints"] / "sdxl.safetensors"))
    folder = d["insightface"] / "models" / "antelopev2"
    folder.mkdir(parents=True)
    for name in ("1k3d68.onnx", "2d106det.onnx", "genderage.onnx", "glintr100.onnx", "scrfd_10g_bnkps.onnx"):
        (folder / name).write_bytes(b"x")
    r = _run(d)
    c = _by(r)
    assert c["InstantID adapter"].status == OK
    assert c["IdentityNet ControlNet"].status == OK
    assert c["SDXL checkpoint"].status == OK
    # wrong sizes are reported with the published size (the real files are 1-260 MB)
    assert c["antelopev2 face models"].status == PROBLEM
    assert "the published file is 16923827 bytes" in c["antelopev2 face models"].fix


def test_wrong_kinds_and_nesting(tmp_path):
    d = _folders(tmp_path)
    save_file({"model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight": torch.zeros(4, 768)},
              str(d["controlnet"] / "sd15.safetensors"))
    state = adapter_state((32,), size=dict(dim=64, depth=1, heads=1, num_queries=4, embedding_dim=1280,
                                           output_dim=96, ff_mult=4))
    save_bin(state, d["instantid"] / "ip-adapter-plus.bin")
    save_file({"model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight": torch.zeros(4, 768)},
              str(d["checkpoints"] / "sd15.safetensors"))
    nested = d["insightface"] / "models" / "antelopev2" / "antelopev2"  # the common extra level
    nested.mkdir(parents=True)
    for name in ("1k3d68.onnx", "2d106det.onnx", "genderage.onnx", "glintr100.onnx", "scrfd_10g_bnkps.onnx"):
        (nested / name).write_bytes(b"x")
    r = _run(d, names={"checkpoint": "sd15.safetensors"})
    c = _by(r)
    assert "IP-Adapter Plus" in c["InstantID adapter"].detail
    assert "full checkpoint" in c["IdentityNet ControlNet"].detail
    assert c["SDXL checkpoint"].status == PROBLEM and "sd15.safetensors" in c["SDXL checkpoint"].detail
    text = c["antelopev2 face models"].fix
    assert "antelopev2" in text and "move" in text.lower()


def test_onnxruntime_and_torch_lines_present(tmp_path):
    r = _run(_folders(tmp_path))
    c = _by(r)
    assert "CPUExecutionProvider" in c["onnxruntime providers"].detail
    assert c["torch"].detail.startswith("torch ")


# --- every missing file's fix names the download command and the exact URL ---------------------------------------

def _cn_state():
    return {"controlnet_cond_embedding.conv_in.weight": torch.zeros(16, 3, 3, 3),
            "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight": torch.zeros(4, 2048),
            "add_embedding.linear_1.weight": torch.zeros(4, 2816)}


def test_missing_files_fix_with_the_download_command_and_urls(tmp_path):
    d = _folders(tmp_path)
    c = _by(_run(d))
    (adapter,), (identitynet,) = files_for(["adapter"]), files_for(["identitynet"])
    assert re.search(r"run `python \S+ download --only adapter`", c["InstantID adapter"].fix)
    assert adapter.url in c["InstantID adapter"].fix
    fix = c["IdentityNet ControlNet"].fix
    assert re.search(r"run `python \S+ download --only identitynet`", fix) and identitynet.url in fix
    assert str(d["controlnet"] / "instantid") in fix and "instantid/diffusion_pytorch_model.safetensors" in fix
    fix = c["antelopev2 face models"].fix
    assert re.search(r"run `python \S+ download --only antelopev2`", fix)
    assert all(f.url in fix for f in files_for(["antelopev2"]))


def test_misplaced_antelope_files_need_moves_not_a_download(tmp_path):
    d = _folders(tmp_path)
    nested = d["insightface"] / "models" / "antelopev2" / "antelopev2"
    nested.mkdir(parents=True)
    for f in files_for(["antelopev2"]):
        (nested / f.name).write_bytes(b"x")
    fix = _by(_run(d))["antelopev2 face models"].fix
    assert "move" in fix and "download" not in fix


def test_a_workflow_name_with_a_subfolder_is_the_file_checked(tmp_path):
    """ComfyUI lists files in subfolders as 'instantid/diffusion_pytorch_model.safetensors' (Windows: '\\')."""
    d = _folders(tmp_path)
    (d["controlnet"] / "instantid").mkdir()
    save_file(_cn_state(), str(d["controlnet"] / "instantid" / "diffusion_pytorch_model.safetensors"))
    for name in ("instantid/diffusion_pytorch_model.safetensors", "instantid\\diffusion_pytorch_model.safetensors"):
        assert _by(_run(d, names={"controlnet": name}))["IdentityNet ControlNet"].status == OK
    other = _by(_run(d, names={"controlnet": "sdxl/diffusion_pytorch_model.safetensors"}))
    assert other["IdentityNet ControlNet"].status == PROBLEM
