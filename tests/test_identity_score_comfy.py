"""Identity Score, Save / Load Identity and the runner's --score inside a real ComfyUI (tiny models)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from instantid_testkit import comfy_support as cs
from instantid_testkit import fixtures_onnx as fx
from instantid_testkit.comfy_env import ROOT, cli_base_dir, comfy_env, face_photo
from instantid_testkit.prompts import full_chain

NEW_NODES = ("InstantIDPrecision_IdentityScore", "InstantIDPrecision_SaveIdentity", "InstantIDPrecision_LoadIdentity")
TINY = {"checkpoint": "tiny_sdxl.safetensors", "controlnet": "tiny_identitynet.safetensors",
        "adapter": "ip-adapter.safetensors"}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    env = comfy_env(tmp_path_factory.mktemp("comfy_likeness"))
    import folder_paths
    from PIL import Image
    inputs = Path(folder_paths.get_input_directory())
    other = np.zeros((640, 640, 3), np.uint8)
    fx.draw_contrast_face(other, 96, 160, 128, 12)
    Image.fromarray(other).save(inputs / "likeness_other.png")
    Image.fromarray(face_photo()).save(inputs / "likeness_flip.png")
    env.runner = cs.PromptRunner()
    return env


def _scoring_prompt(**score_inputs):
    return {
        "fa": {"class_type": "InstantIDPrecision_FaceAnalysisLoader", "inputs": {"provider": "CPU", "det_size": "640"}},
        "ref": {"class_type": "LoadImage", "inputs": {"image": "face.png"}},
        "det": {"class_type": "InstantIDPrecision_FaceDetect", "inputs": {"face_analysis": ["fa", 0], "image": ["ref", 0],
                "selection": "largest", "face_index": 0, "on_no_face": "error"}},
        "other": {"class_type": "LoadImage", "inputs": {"image": "likeness_other.png"}},
        "blank": {"class_type": "LoadImage", "inputs": {"image": "blank.png"}},
        "b1": {"class_type": "ImageBatch", "inputs": {"image1": ["other", 0], "image2": ["ref", 0]}},
        "b2": {"class_type": "ImageBatch", "inputs": {"image1": ["b1", 0], "image2": ["blank", 0]}},
        "score": {"class_type": "InstantIDPrecision_IdentityScore", "inputs": {
            "face_analysis": ["fa", 0], "images": ["b2", 0], "face": "largest", "face_index": 0,
            "on_no_face": "score 0", "preview_order": "best first", "faces": ["det", 0], **score_inputs}},
    }


def _full_outputs(env, node):
    return env.runner.held_outputs(node)


def test_nodes_registered_with_tooltips_and_help_pages(env):
    import nodes
    for name in NEW_NODES:
        cls = nodes.NODE_CLASS_MAPPINGS[name]
        for section in cls.INPUT_TYPES().values():
            for inp, (kind, *opts) in section.items():
                assert opts and opts[0].get("tooltip"), (name, inp)
        assert len(cls.OUTPUT_TOOLTIPS) == len(cls.RETURN_TYPES)
        page = ROOT / "web" / "docs" / f"{name}.md"
        assert page.is_file() and "## Inputs" in page.read_text() and "## Outputs" in page.read_text(), page
    assert (ROOT / "web" / "identity_score.js").is_file()


def test_score_node_scores_the_batch_in_order(env):
    result = env.runner.run(_scoring_prompt())
    scores, text, best, best_image, preview, report = (v[0] if i else v for i, v in
                                                       enumerate(_full_outputs(env, "score")))
    assert len(scores) == 3  # one FLOAT per image (OUTPUT_IS_LIST), batch order: other, the reference, blank
    assert scores[1] == pytest.approx(1.0, abs=1e-5) and scores[0] < 0.95 and scores[2] == 0.0
    assert best == 1 and text.splitlines()[0].split() == ["image", "A"]
    assert torch.equal(best_image, result.output("ref"))  # the reference image itself
    assert preview.shape == (3, 640, 640, 3) and not torch.equal(preview[0], best_image[0])  # drawn on
    assert "image 2: no face found: scored 0" in report
    ui = result.history["outputs"]["score"]["instantid_identity_score"][0]
    assert ui["columns"] == ["image", "A"] and ui["best"] == 1 and [r[0] for r in ui["rows"]] == [0, 1, 2]


def test_scores_route_as_a_list_downstream(env):
    """OUTPUT_IS_LIST: a node fed the scores runs once per image (here ComfyUI's Preview Any)."""
    prompt = _scoring_prompt()
    prompt["f"] = {"class_type": "PreviewAny", "inputs": {"source": ["score", 0]}}
    result = env.runner.run(prompt)
    shown = [float(t) for t in result.history["outputs"]["f"]["text"]]
    assert len(shown) == 3 and shown[1] == pytest.approx(1.0, abs=1e-5) and shown[2] == 0.0


def test_no_face_can_stop_with_an_error(env):
    prompt = _scoring_prompt()
    prompt["score"]["inputs"]["on_no_face"] = "error"
    result = env.runner.run(prompt, raise_on_error=False)
    assert not result.success
    msg = result.error["exception_message"]
    assert "InstantID Identity Score: check the 'images' input — image 2 of the batch: no face found" in msg


def test_without_a_reference_the_error_names_the_inputs(env):
    prompt = _scoring_prompt()
    del prompt["score"]["inputs"]["faces"]
    result = env.runner.run(prompt, raise_on_error=False)
    assert "connect a reference" in result.error["exception_message"]


def test_identity_reference_from_the_projection_scores_like_its_faces(env):
    chain = full_chain(seed=2)
    chain["score"] = {"class_type": "InstantIDPrecision_IdentityScore", "inputs": {
        "face_analysis": ["fa", 0], "images": ["img", 0], "face": "largest", "face_index": 0,
        "on_no_face": "score 0", "preview_order": "batch order", "identity": ["proj", 0], "faces_2": ["det", 0]}}
    result = env.runner.run(chain)
    ui = result.history["outputs"]["score"]["instantid_identity_score"][0]
    assert ui["columns"] == ["image", "A", "B", "mean"]
    assert ui["rows"][0][1:3] == pytest.approx([1.0, 1.0], abs=1e-5)  # the identity keeps the raw embeddings


def _save_load_prompt(name, if_exists="new numbered name"):
    chain = full_chain(seed=5, save=False)
    chain.pop("ks"), chain.pop("dec")
    chain["save_id"] = {"class_type": "InstantIDPrecision_SaveIdentity", "inputs": {
        "faces": ["det", 0], "name": name, "combine": "norm_average", "if_exists": if_exists}}
    return chain


def test_saved_identity_projects_bit_identically(env):
    import folder_paths
    import nodes
    env.runner.run(_save_load_prompt("ann"))
    folder = Path(folder_paths.get_folder_paths("instantid_identities")[0])
    assert (folder / "ann.safetensors").is_file() and str(env.tmp) in str(folder)  # the test's models folder
    listed = nodes.NODE_CLASS_MAPPINGS["InstantIDPrecision_LoadIdentity"].INPUT_TYPES()["required"]["identity_file"][0]
    assert "ann.safetensors" in listed
    chain = full_chain(seed=5, save=False)
    chain.pop("ks"), chain.pop("dec")
    chain["load"] = {"class_type": "InstantIDPrecision_LoadIdentity", "inputs": {"identity_file": "ann.safetensors"}}
    chain["proj2"] = {"class_type": "InstantIDPrecision_ImageProjection", "inputs": {
        "instantid": ["iid", 0], "faces": ["load", 0], "combine": "average", "negative_noise": 0.0, "seed": 0}}
    chain["kps1"] = {"class_type": "InstantIDPrecision_FaceKeypoints", "inputs": {
        "faces": ["det", 0], "width": 64, "height": 64, "image_index": 0}}
    chain["kps2"] = {"class_type": "InstantIDPrecision_FaceKeypoints", "inputs": {
        "faces": ["load", 0], "width": 64, "height": 64, "image_index": 0}}
    chain["show"] = {"class_type": "PreviewImage", "inputs": {"images": ["kps2", 0]}}
    chain["show1"] = {"class_type": "PreviewImage", "inputs": {"images": ["kps1", 0]}}
    for name, proj in (("s1", "proj"), ("s2", "proj2")):  # output nodes, so both projections run in this prompt
        chain[name] = {"class_type": "InstantIDPrecision_IdentityScore", "inputs": {
            "face_analysis": ["fa", 0], "images": ["img", 0], "face": "largest", "face_index": 0,
            "on_no_face": "score 0", "preview_order": "batch order", "identity": [proj, 0]}}
    result = env.runner.run(chain)
    a, b = result.output("proj"), result.output("proj2")
    assert torch.equal(a.tokens.cond, b.tokens.cond) and torch.equal(a.tokens.uncond, b.tokens.uncond)
    assert a.kv.layers.keys() == b.kv.layers.keys()
    for n in a.kv.layers:
        for t in ("k_cond", "v_cond", "k_uncond", "v_uncond"):
            assert torch.equal(getattr(a.kv.layers[n], t), getattr(b.kv.layers[n], t)), (n, t)
    assert torch.equal(result.output("kps1"), result.output("kps2"))
    assert "saved identity 'ann'" in b.report and "saved with combine = norm_average" in b.report
    info = result.history["outputs"]["load"]["instantid_identity_info"][0]
    assert "photos: 1" in info and "antelopev2/glintr100" in info and "format: instantid_identity v1" in info


def test_save_never_overwrites_unless_asked(env):
    import folder_paths
    folder = Path(folder_paths.get_folder_paths("instantid_identities")[0])
    env.runner.run(_save_load_prompt("bob"))
    first = (folder / "bob.safetensors").read_bytes()
    result = env.runner.run(_save_load_prompt("bob "))  # another prompt (the cache would skip the same one)
    assert (folder / "bob_0001.safetensors").is_file() and (folder / "bob.safetensors").read_bytes() == first
    assert "bob_0001.safetensors" in result.history["outputs"]["save_id"]["instantid_identity_info"][0]


def test_damaged_identity_file_names_the_input(env):
    import folder_paths
    folder = Path(folder_paths.get_folder_paths("instantid_identities")[0])
    (folder / "broken.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{bad json")
    folder_paths.filename_list_cache.clear()
    prompt = {"load": {"class_type": "InstantIDPrecision_LoadIdentity", "inputs": {"identity_file": "broken.safetensors"}},
              "kps": {"class_type": "InstantIDPrecision_FaceKeypoints", "inputs": {
                  "faces": ["load", 0], "width": 64, "height": 64, "image_index": 0}},
              "show": {"class_type": "PreviewImage", "inputs": {"images": ["kps", 0]}}}
    result = env.runner.run(prompt, raise_on_error=False)
    msg = result.error["exception_message"]
    assert "InstantID Load Identity: check the 'identity_file' input — broken.safetensors is damaged" in msg


# --- the runner ----------------------------------------------------------------------------------------------

def _photo(env, tmp_path):
    from PIL import Image
    path = tmp_path / "me.png"
    Image.fromarray(face_photo([(96, 160, 128, 2)])).save(path)
    return path


def test_runner_score_goes_into_the_png_and_the_summary(env, tmp_path):
    from PIL import Image
    from runner import run_command, scoring
    wf = ROOT / "example_workflows" / "instantid_basic_portrait.json"
    written = run_command.run_workflow(wf, out=tmp_path / "out.png", verbose=False, score=True,
                                    faces=[str(_photo(env, tmp_path))], width=64, height=64, steps=1, seed=3, **TINY)
    record = scoring.read_png_score(written[0])
    assert record is not None and record["metric"].startswith("cosine")
    assert -1.0 <= record["score"] <= 1.0 and set(record["per_reference"]) == {"A"}
    with Image.open(written[0]) as img:
        assert {"prompt", scoring.PNG_KEY} <= set(img.text)  # ComfyUI's own metadata is kept
        assert json.loads(img.text["prompt"])  # still the prompt ComfyUI ran
    assert scoring.summary(record).startswith("identity score ")


def test_runner_face_may_be_a_saved_identity(env, tmp_path):
    from runner import run_command, scoring, workflow_prompt
    from instantid_core.faces.face_analysis import FaceAnalyzer
    from instantid_core.files.identity_file import save_identity
    import folder_paths
    analyzer = FaceAnalyzer.load(folder_paths.get_folder_paths("insightface")[0], "CPU")
    from PIL import Image
    saved = save_identity(tmp_path, "me", [analyzer.analyze(np.asarray(Image.open(_photo(env, tmp_path))))])
    wf = ROOT / "example_workflows" / "instantid_basic_portrait.json"
    common = dict(verbose=False, score=True, width=64, height=64, steps=1, seed=3, **TINY)
    from_photo = run_command.run_workflow(wf, out=tmp_path / "a.png", faces=[str(_photo(env, tmp_path))], **common)
    from_file = run_command.run_workflow(wf, out=tmp_path / "b.png", faces=[str(saved)], **common)
    a, b = (np.asarray(Image.open(p[0])) for p in (from_photo, from_file))
    assert np.array_equal(a, b)  # the same identity, so the same picture
    assert scoring.read_png_score(from_file[0])["score"] == scoring.read_png_score(from_photo[0])["score"]
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"junk")
    with pytest.raises(workflow_prompt.RunnerError, match="--face .*bad.safetensors: bad.safetensors is damaged"):
        run_command.run_workflow(wf, out=tmp_path / "c.png", faces=[str(bad)], **common)


def test_cli_prints_the_score(env, tmp_path):
    """`python <pack> run … --score` in a fresh process."""
    base = cli_base_dir(env, tmp_path)
    out = tmp_path / "portrait.png"
    cmd = [sys.executable, str(ROOT), "--comfy-args", f"--cpu --base-directory {base}", "run",
           "example_workflows/instantid_basic_portrait.json", "--face", str(_photo(env, tmp_path)), "--score",
           "--out", str(out), "--width", "64", "--height", "64", "--steps", "1", "--checkpoint", TINY["checkpoint"],
           "--controlnet", TINY["controlnet"], "--adapter", TINY["adapter"]]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "COMFYUI_PATH": env.comfy_root})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    line = next(l for l in done.stdout.splitlines() if l.startswith(f"saved {out}"))
    assert "identity score " in line
    from runner.scoring import read_png_score
    assert json.dumps(read_png_score(out))
