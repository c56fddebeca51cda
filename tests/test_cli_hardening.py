"""The command line's edges, mostly without ComfyUI: arguments checked before ComfyUI starts, --comfy-args values
that look like options, Ctrl-C during a download, photos staged decoded (not byte for byte), terminal-safe titles,
the usage line, the doctor's onnxruntime advice and insightface's deprecation warning."""
import io
import json
import signal
import subprocess
import sys
import textwrap
import time
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

from instantid_testkit.hub_server import HubServer
from instantid_core.files.model_catalog import ADAPTER, ModelFile, pack_folder_for_command
from runner import cli
from runner.arg_checks import join_comfy_args
from runner.run_command import console_listener, printable
from runner.workflow_prompt import MAX_PHOTO_BYTES, RunnerError, decoded_png

ROOT = Path(__file__).resolve().parents[1]


# --- --comfy-args ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["--comfy-args", "--lowvram", "doctor"],
    ["doctor", "--comfy-args", "--lowvram"],
    ["--comfy-args=--lowvram", "doctor"],
    ["doctor", "--comfy-args=--lowvram"],
])
def test_comfy_args_take_a_value_that_starts_with_dashes_in_either_position(argv):
    opts = cli._parser().parse_args(join_comfy_args(argv))
    assert opts.comfy_args == "--lowvram" and opts.command == "doctor"


# --- arguments checked before ComfyUI starts ---------------------------------------------------------------------

@pytest.fixture
def no_boot(monkeypatch):
    import runner.boot
    monkeypatch.setattr(runner.boot, "boot_comfy", lambda *a, **k: pytest.fail("ComfyUI was started"))
    monkeypatch.setenv("COMFYUI_PATH", str(ROOT))  # "found": only the argument checks may stop the command


def _fails_before_boot(capsys, argv, words):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err, err


def test_run_checks_its_files_and_output_before_comfyui_starts(no_boot, capsys, tmp_path):
    photo = tmp_path / "me.png"
    photo.write_bytes(b"x")
    flow = "example_workflows/instantid_basic_portrait.json"
    _fails_before_boot(capsys, ["run", "nope.json", "--face", str(photo)], "workflow not found: nope.json")
    _fails_before_boot(capsys, ["run", flow, "--face", str(tmp_path / "gone.png")], "photo not found")
    _fails_before_boot(capsys, ["run", flow, "--face", str(photo), "--out", str(tmp_path)], "is a folder")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    _fails_before_boot(capsys, ["run", flow, "--face", str(photo), "--out", str(blocker / "out.png")],
                       "cannot be written")
    _fails_before_boot(capsys, ["migrate", str(tmp_path / "gone.json"), str(tmp_path / "x.json")],
                       "workflow not found")
    _fails_before_boot(capsys, ["doctor", "--models", str(blocker)], "is not a folder")


def test_a_face_that_is_a_pipe_or_an_unusable_path_is_named_so(no_boot, capsys, tmp_path):
    """A FIFO is there but no photo (reading it would block): not "photo not found" (issue 26, finding 8)."""
    import os
    fifo = tmp_path / "face.png"
    os.mkfifo(fifo)
    flow = "example_workflows/instantid_basic_portrait.json"
    _fails_before_boot(capsys, ["run", flow, "--face", str(fifo)], "is not a regular file")
    _fails_before_boot(capsys, ["run", flow, "--face", "y" * 5000 + ".png"], "cannot be used (File name too long)")
    with pytest.raises(RunnerError, match="is not a regular file"):
        decoded_png(fifo)
    photo = tmp_path / "me.png"
    photo.write_bytes(b"x")
    _fails_before_boot(capsys, ["run", flow, "--face", str(photo), "--out", "y" * 5000 + ".png"],
                       "cannot be written (File name too long)")
    _fails_before_boot(capsys, ["run", flow, "--face", str(photo), "--out", "a\x00b.png"],
                       "cannot be written (embedded null byte)")


def test_a_workflow_nested_too_deeply_is_refused_in_words(capsys, tmp_path):
    from argparse import Namespace
    from runner.workflow_prompt import load_workflow
    deep = tmp_path / "deep.json"
    deep.write_text('{"nodes": ' + "[" * 10_000 + "]" * 10_000 + "}")
    assert cli._migrate(Namespace(source=str(deep), target=str(tmp_path / "out.json"))) == 2
    assert "nested too deeply" in capsys.readouterr().err
    with pytest.raises(RunnerError, match="cannot read workflow"):
        load_workflow(deep, definitions={})
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps({"nodes": [1, {"id": 2, "type": "ApplyInstantID", "inputs": "x"}], "links": []}))
    with pytest.raises(RunnerError, match=r"cannot convert .*nodes\[0\] is a int"):
        load_workflow(odd, definitions={})


def test_download_into_a_models_folder_whose_kind_folder_is_a_file(capsys, tmp_path):
    models = tmp_path / "M"
    models.mkdir()
    (models / "instantid").write_text("not a folder")
    assert cli.main(["download", "--only", "adapter", "--to", str(models)]) == 2
    err = capsys.readouterr().err
    assert f"{models / 'instantid'} is a file, not a folder" in err and "Traceback" not in err


# --- Ctrl-C during a download ------------------------------------------------------------------------------------

CHILD = """
    import functools, json, sys
    sys.path[:0] = [{root!r} + "/tests"]
    import instantid_testkit  # the pack as ComfyUI names it; instantid_core and runner name its modules
    from argparse import Namespace
    from instantid_core.files.model_catalog import ModelFile
    from runner import cli
    from runner.download import download, folders_from_models_dir
    rec = ModelFile(**json.loads({rec!r}))
    fetch = functools.partial(download, catalog=(rec,), progress=False, cache_dir={cache!r})
    sys.exit(cli._download(fetch, Namespace(only=None), folders_from_models_dir({models!r})))
"""


def test_ctrl_c_during_a_download_keeps_the_partial_and_says_so(tmp_path):
    import hashlib
    from huggingface_hub import constants
    data = bytes(range(256)) * (3 * constants.DOWNLOAD_CHUNK_SIZE // 256)  # written to disk a chunk at a time
    rec = ModelFile(ADAPTER, "test/instantid", "ip-adapter.bin", "1" * 40, "instantid", "ip-adapter.bin",
                    len(data), hashlib.sha256(data).hexdigest(), "test")
    with HubServer(pace=0.01) as hub:  # ~5 s for the file: time to interrupt it after its first chunk
        hub.add(rec.repo_id, rec.path_in_repo, data, commit=rec.revision)
        code = textwrap.dedent(CHILD.format(root=str(ROOT), rec=json.dumps(rec.__dict__), cache=str(tmp_path / "c"),
                                            models=str(tmp_path / "m")))
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env={**__import__("os").environ, "HF_ENDPOINT": hub.url})
        folder = tmp_path / "m" / "instantid"
        deadline = time.monotonic() + 120
        while not any(p.stat().st_size for p in folder.glob("*.incomplete")) if folder.is_dir() else True:
            assert time.monotonic() < deadline and child.poll() is None, child.communicate()
            time.sleep(0.05)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    assert child.returncode == 130, out + err
    assert "run the same command again to resume" in err and "Traceback" not in err, err
    partials = list(folder.glob("*.incomplete"))
    assert len(partials) == 1 and 0 < partials[0].stat().st_size < len(data)
    assert not (folder / "ip-adapter.bin").exists() and not list(folder.glob("*.lock"))


# --- photos are staged decoded -----------------------------------------------------------------------------------

def _png(pixels, **save):
    from PIL import Image
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format=save.pop("format", "PNG"), **save)
    return out.getvalue()


def test_a_photo_is_staged_as_its_decoded_image_without_trailing_bytes(tmp_path):
    from PIL import Image
    pixels = np.random.default_rng(0).integers(0, 255, (40, 30, 3), dtype=np.uint8)
    photo = tmp_path / "me.png"
    photo.write_bytes(_png(pixels) + b"\0" * 2**20)  # 1 MB after the image data
    staged = decoded_png(photo)
    assert len(staged) < 2**16
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(staged))), pixels)


def test_a_photo_file_beyond_the_size_limit_is_refused_unread(tmp_path):
    photo = tmp_path / "huge.png"
    photo.write_bytes(_png(np.zeros((8, 8, 3), np.uint8)))
    with open(photo, "r+b") as f:
        f.truncate(MAX_PHOTO_BYTES + 1)  # sparse: gigabytes of trailing bytes cost no disk here
    with pytest.raises(RunnerError, match="more than a photo"):
        decoded_png(photo)


def test_a_photo_is_staged_upright_as_its_exif_orientation_says(tmp_path):
    from PIL import Image
    pixels = np.zeros((20, 10, 3), np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    photo = tmp_path / "phone.jpg"
    photo.write_bytes(_png(pixels, format="JPEG", exif=exif.tobytes()))
    assert Image.open(io.BytesIO(decoded_png(photo))).size == (20, 10)


# --- terminal output ---------------------------------------------------------------------------------------------

def test_node_titles_reach_the_terminal_escaped(monkeypatch):
    monkeypatch.setitem(sys.modules, "nodes", types.SimpleNamespace(NODE_DISPLAY_NAME_MAPPINGS={}))
    api = {"7": {"class_type": "KSampler", "_meta": {"title": "evil\x1b]0;pwned\x07\x1b[2J title\u202e"}}}
    out = io.StringIO()
    console_listener(api, out)("executing", {"node": "7"})
    text = out.getvalue()
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "evil\\x1b]0;pwned\\x07\\x1b[2J title\\u202e" in text
    assert printable("Face photo – é") == "Face photo – é"


def test_usage_line_names_the_folder_as_typed_from_comfyui(monkeypatch):
    monkeypatch.chdir(ROOT.parent.parent if ROOT.parent.name == "custom_nodes" else ROOT.parent)
    shown = pack_folder_for_command()
    assert Path(shown.strip('"')).resolve() == ROOT  # the pack folder itself, not instantid_core/
    assert cli._parser().prog == f"python {shown}"


# --- doctor and warnings -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("has_cuda", [False, True])
def test_doctor_suggests_onnxruntime_gpu_only_where_torch_has_a_cuda_gpu(monkeypatch, has_cuda):
    pytest.importorskip("onnxruntime")
    from instantid_core.files import doctor
    import onnxruntime
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    monkeypatch.setattr(doctor, "_torch_has_cuda", lambda: has_cuda)
    check = next(c for c in doctor.check_onnxruntime() if c.what == "onnxruntime providers")
    assert ("onnxruntime-gpu" in check.fix) == has_cuda
    assert (check.status == doctor.OK) != has_cuda


def test_insightface_alignment_deprecation_is_silenced_and_nothing_else():
    face_align = pytest.importorskip("insightface.utils.face_align")
    from instantid_core.faces.face_analysis import quiet_insightface_deprecation
    marks = np.array([[38.3, 51.7], [73.5, 51.5], [56.0, 71.7], [41.5, 92.4], [70.7, 92.2]], np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("always")
        quiet_insightface_deprecation()
        face_align.estimate_norm(marks, 112)
        warnings.warn("another FutureWarning", FutureWarning)
    assert [str(w.message) for w in caught] == ["another FutureWarning"]
