"""`python <pack> batch`: manifest rows, resume, Ctrl-C / kill safety, and the same images from the in-process
executor, two real ComfyUI servers (one killed mid-batch) and a local Ray cluster (one actor killed).

The in-process reference run (6 rows, 2 people x 3 prompts) is made once; the other paths are compared with it
byte for byte (same PNG: pixels and the prompt in its metadata)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from instantid_testkit.comfy_env import ROOT, cli_base_dir, comfy_env, face_photo
from runner.batch.manifest import BadRow, Job, cross_product, read_manifest, slug
from runner.batch.state import OutputFolder

WORKFLOW = ROOT / "example_workflows" / "instantid_basic_portrait.json"
TINY = {"checkpoint": "tiny_sdxl.safetensors", "controlnet": "tiny_identitynet.safetensors",
        "adapter": "ip-adapter.safetensors"}
OPTIONS = {**TINY, "steps": 1, "width": 64, "height": 64, "sets": []}
CLI_OPTIONS = [f"--{k}={v}" for k, v in OPTIONS.items() if k != "sets"]
PROMPTS = ["a portrait", "an oil painting of a person", "a photo at the beach"]
SLOW = 300  # generous timeouts: a loaded 2-core machine


def write_photos(folder: Path) -> Path:
    from PIL import Image
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(face_photo([(96, 160, 128, 2)])).save(folder / "alice.png")
    Image.fromarray(face_photo([(300, 200, 128, 4)])).save(folder / "bob.png")
    Image.fromarray(np.zeros((320, 320, 3), np.uint8)).save(folder / "noface.png")
    (folder / "broken.png").write_bytes(b"not a png at all")
    return folder


def write_manifest(folder: Path, prompts=PROMPTS, extra=()) -> Path:
    lines = ["id,face,prompt,seed"]
    for person in ("alice", "bob"):
        for i, prompt in enumerate(prompts):
            lines.append(f"{person},{person}.png,{prompt},{10 + i}")
    path = folder / "manifest.csv"
    path.write_text("\n".join(lines + list(extra)) + "\n")
    return path


def results(out: Path) -> list:
    return list(OutputFolder(out).records())


def comparable(records) -> dict:
    """row -> the fields every path must agree on (seconds, worker: where and how long it ran)."""
    return {r["row"] + "/" + r["output"]: {k: v for k, v in r.items() if k not in ("seconds", "worker", "line")}
            for r in records if r["status"] == "ok"}


def images(out: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.png"))}


def assert_complete(out: Path, expected: int) -> None:
    """Every row made exactly once (one ok record each), every image whole, nothing half-written left."""
    ok = [r for r in results(out) if r["status"] == "ok"]
    rows = [r["row"] + "/" + r["output"] for r in ok]
    assert len(rows) == len(set(rows)) == expected, rows
    from PIL import Image
    for r in ok:
        with Image.open(out / r["output"]) as img:
            img.load()
    assert not list(out.glob(".*.part"))
    assert sorted(p.name for p in out.glob("*.png")) == sorted(r["output"] for r in ok)


class Hooked:
    """An executor whose sink calls ``hook(job, outcome)`` after each finished row (to kill something)."""

    def __init__(self, inner, hook):
        self.inner, self.hook, self.calls = inner, hook, 0

    def run(self, jobs, sink):
        self.calls += 1
        done = sink.done

        def hooked(job, outcome):
            done(job, outcome)
            self.hook(job, outcome)
        sink.done = hooked
        self.inner.run(jobs, sink)


# -- manifest rows, no ComfyUI -------------------------------------------------------------------------------

def test_bad_rows_are_errors_of_their_own_and_good_rows_keep_their_names(tmp_path):
    photos = write_photos(tmp_path / "photos")
    outside = tmp_path / "elsewhere.png"
    shutil.copyfile(photos / "alice.png", outside)
    manifest = photos / "m.jsonl"
    rows = [{"id": "ok", "face": "alice.png", "prompt": "A Portrait, 85mm!", "seed": 3},
            {"id": "nan", "face": "alice.png", "width": float("nan")},
            {"id": "seed", "face": "alice.png", "seed": -1},
            {"id": "seed2", "face": "alice.png", "seed": "abc"},
            {"id": "col", "face": "alice.png", "colour": "red"},
            {"id": "gone", "face": "missing.png"},
            {"id": "out", "face": str(outside)},
            {"id": "up", "face": "../elsewhere.png"},
            {"id": "setnan", "face": "alice.png", "set": ["KSampler.cfg=NaN"]},
            {"id": "ok", "face": "alice.png", "prompt": "a portrait 85mm", "seed": 3}]
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n")
    parsed = read_manifest(manifest)
    by_id = {r.row: r for r in parsed}
    job = parsed[0]
    assert isinstance(job, Job) and job.output == "ok_a-portrait-85mm_3.png" and job.faces == (str(photos / "alice.png"),)
    errors = {r.row: r.error for r in parsed if isinstance(r, BadRow)}
    assert "width" in errors["nan"] and "seed" in errors["seed"] and "integer" in errors["seed2"]
    assert "colour" in errors["col"] and "not found" in errors["gone"]
    assert "outside the allowed folders" in errors["out"] and "outside the allowed folders" in errors["up"]
    assert "finite" in errors["setnan"]
    assert "same output file" in parsed[-2].error  # two rows, one file name: the second is refused
    assert "JSON" in parsed[-1].error
    assert len([r for r in parsed if isinstance(r, Job)]) == 1 and by_id["ok"]
    # --allow-dir lets the outside photo in
    assert isinstance(read_manifest(manifest, allowed=[tmp_path])[6], Job)


def test_cross_product_and_slugs(tmp_path):
    photos = write_photos(tmp_path / "faces")
    (photos / "broken.png").unlink()
    (photos / "noface.png").unlink()
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a portrait\n\n# a comment\nan oil painting\n")
    rows = cross_product(photos, prompts, range(5, 7))
    assert [r.output for r in rows] == [f"{p}_{s}_{n}.png" for p in ("alice", "bob")
                                        for s in ("a-portrait", "an-oil-painting") for n in (5, 6)]
    long = "word " * 30
    assert len(slug(long)) < 50 and slug(long) != slug(long + "x") and slug(None) == "workflow-prompt"


def test_an_api_format_workflow_is_taken_as_it_is():
    from runner.workflow_prompt import RunnerError, is_api_prompt, workflow_to_api
    api = {"1": {"class_type": "KSampler", "inputs": {"seed": 1}}, 2: {"class_type": "SaveImage", "inputs": {}}}
    assert is_api_prompt(api) and workflow_to_api(api, {}) == {"1": api["1"], "2": api[2]}
    with pytest.raises(RunnerError, match="neither a UI-format workflow"):
        workflow_to_api({"foo": 1}, {})


# -- the in-process executor -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def env(tmp_path_factory):
    env = comfy_env(tmp_path_factory.mktemp("comfy_batch"))
    env.photos = write_photos(tmp_path_factory.mktemp("batch_photos"))
    return env


def local_executor(env):
    from runner.batch.local import LocalExecutor
    return LocalExecutor(lambda: None, json.loads(WORKFLOW.read_text()), WORKFLOW.name, OPTIONS,
                         say=lambda _l: None)


def run_local(env, manifest, out, executor=None):
    from runner.batch.run import run_batch
    return run_batch(read_manifest(manifest), out, WORKFLOW.read_bytes(), OPTIONS, executor or local_executor(env))


@pytest.fixture(scope="module")
def reference(env, tmp_path_factory):
    """The 6-row manifest made in-process; counts how often a face is analysed."""
    analyzer = env.pack("instantid_core.faces.face_analysis").FaceAnalyzer
    calls = []
    original = analyzer.analyze

    def counting(self, image, *a, **kw):
        calls.append(image.shape)
        return original(self, image, *a, **kw)
    analyzer.analyze = counting
    try:
        out = tmp_path_factory.mktemp("reference")
        manifest = write_manifest(env.photos)
        status = run_local(env, manifest, out)
    finally:
        analyzer.analyze = original
    return {"out": out, "status": status, "analyses": len(calls), "manifest": manifest}


def test_local_batch_makes_every_row_and_analyses_each_person_once(reference):
    out = reference["out"]
    assert reference["status"] == 0
    assert_complete(out, 6)
    assert reference["analyses"] == 2  # two people, three prompts each: ComfyUI's cache kept each analysis
    records = results(out)
    assert {r["output"] for r in records} == {f"{p}_{slug(t)}_{10 + i}.png" for p in ("alice", "bob")
                                              for i, t in enumerate(PROMPTS)}
    assert all(r["score"] is None and r["error"] is None and r["key"] for r in records)
    from PIL import Image
    pics = images(out)
    assert all(np.asarray(Image.open(out / n)).shape == (64, 64, 3) for n in pics)
    assert len(set(pics.values())) == 6  # different prompts and seeds, different images


def test_rerun_does_nothing_and_a_changed_row_is_redone(env, reference, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(reference["out"], out)
    before = (out / "results.jsonl").read_text()
    untouched = local_executor(env)
    again = Hooked(untouched, lambda *a: None)
    assert run_local(env, reference["manifest"], out, again) == 0
    assert again.calls == 0 and (out / "results.jsonl").read_text() == before  # no executor, no record
    # one prompt changed: that row only (the same photos, copied to another folder: the same inputs)
    manifest = tmp_path / "m2.csv"
    manifest.write_text(reference["manifest"].read_text().replace(f"alice,alice.png,{PROMPTS[1]}",
                                                                  "alice,alice.png,a changed prompt"))
    for name in ("alice.png", "bob.png"):
        shutil.copyfile(env.photos / name, tmp_path / name)
    assert run_local(env, manifest, out) == 0
    new = results(out)[6:]
    assert [(r["row"], r["output"], r["status"]) for r in new] == [
        ("alice", f"alice_{slug('a changed prompt')}_11.png", "ok")]


def test_bad_rows_are_recorded_and_the_batch_goes_on(env, tmp_path):
    for name in ("alice.png", "noface.png", "broken.png"):
        shutil.copyfile(env.photos / name, tmp_path / name)
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,face,prompt,seed,colour\n"
                        "good,alice.png,a portrait,1,\n"
                        "noface,noface.png,a portrait,1,\n"
                        "broken,broken.png,a portrait,1,\n"
                        "gone,gone.png,a portrait,1,\n"
                        "badseed,alice.png,a portrait,x1,\n"
                        "colour,alice.png,a portrait,2,red\n")
    out = tmp_path / "out"
    assert run_local(env, manifest, out) == 1
    by_row = {r["row"]: r for r in results(out)}
    assert by_row["good"]["status"] == "ok" and (out / by_row["good"]["output"]).is_file()
    assert "no face" in by_row["noface"]["error"].lower()
    assert "not an image" in by_row["broken"]["error"]
    assert "not found" in by_row["gone"]["error"] and "integer" in by_row["badseed"]["error"]
    assert "colour" in by_row["colour"]["error"]
    assert all(by_row[r]["status"] == "error" for r in ("noface", "broken", "gone", "badseed", "colour"))


def first_rows(manifest: Path, count: int, tmp: Path) -> Path:
    """The manifest's first ``count`` rows (one person's), its photos alongside."""
    lines = manifest.read_text().splitlines()
    for name in ("alice.png", "bob.png"):
        shutil.copyfile(manifest.parent / name, tmp / name)
    path = tmp / "first.csv"
    path.write_text("\n".join(lines[:count + 1]) + "\n")
    return path


def test_sigint_finishes_the_current_image_and_a_rerun_completes(env, reference, tmp_path):
    out, manifest = tmp_path / "out", first_rows(reference["manifest"], 2, tmp_path)
    executor = Hooked(local_executor(env), lambda *a: os.kill(os.getpid(), signal.SIGINT))
    assert run_local(env, manifest, out, executor) == 130
    assert len(results(out)) == 1  # the image that was running when Ctrl-C came, and no other
    assert_complete(out, 1)
    assert run_local(env, manifest, out) == 0
    assert_complete(out, 2)
    made = images(out)
    assert made == {k: v for k, v in images(reference["out"]).items() if k in made}


# -- a real `python <pack> batch` process, killed ------------------------------------------------------------

def test_sigkill_mid_batch_loses_nothing_and_a_rerun_makes_each_row_once(env, reference, tmp_path):
    out, manifest = tmp_path / "out", first_rows(reference["manifest"], 3, tmp_path)
    cmd = [sys.executable, str(ROOT), "--comfy-args", f"--cpu --base-directory {cli_base_dir(env, tmp_path)}", "batch",
           str(manifest), "--out", str(out), *CLI_OPTIONS]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "COMFYUI_PATH": env.comfy_root})
    deadline = time.monotonic() + SLOW
    while time.monotonic() < deadline and proc.poll() is None and not (out / "results.jsonl").exists():
        time.sleep(0.05)
    proc.kill()
    log = proc.communicate(timeout=60)[0]
    assert (out / "results.jsonl").exists(), log[-3000:]
    assert 1 <= len(results(out)) < 3, log[-3000:]
    assert run_local(env, manifest, out) == 0  # the rerun: the rest, nothing twice
    assert_complete(out, 3)
    made = images(out)  # a fresh process made the same bytes as this one
    assert made == {k: v for k, v in images(reference["out"]).items() if k in made}
    reference_records = comparable(results(reference["out"]))
    assert comparable(results(out)) == {k: v for k, v in reference_records.items() if k in made or
                                        k.split("/", 1)[1] in made}


# -- two real ComfyUI servers, one killed mid-batch ----------------------------------------------------------

def test_two_servers_one_killed_mid_batch_make_the_same_images(env, reference, tmp_path):
    from browser_support.comfy_server import ComfyServer
    from runner.batch.run import run_batch
    from runner.batch.servers import ServerExecutor
    servers = [ComfyServer(env.comfy_root, tmp_path / f"s{i}") for i in range(2)]
    lacking = ComfyServer(env.comfy_root, tmp_path / "plain")
    try:
        for s in servers:
            s.prepare()
        for s in servers:  # both start at once
            s.start(timeout=SLOW)
        executor = ServerExecutor([s.url for s in servers], json.loads(WORKFLOW.read_text()), WORKFLOW.name,
                                  OPTIONS, say=lambda _l: None)
        executor.check()
        killed = []

        def kill_first(job, outcome):
            if not killed:
                victim = next(s for s in servers if s.url == outcome.worker)
                os.killpg(victim.proc.pid, signal.SIGKILL)
                killed.append(victim.url)
        out = tmp_path / "out"
        status = run_batch(read_manifest(reference["manifest"]), out, WORKFLOW.read_bytes(), OPTIONS,
                           Hooked(executor, kill_first))
        assert status == 0
        assert_complete(out, 6)
        workers = [r["worker"] for r in results(out)]
        assert killed and workers.count(killed[0]) == 1  # its queued row went to the other server
        assert images(out) == images(reference["out"])
        assert comparable(results(out)) == comparable(results(reference["out"]))
    finally:
        for s in servers:
            s.stop()
    del lacking


def test_a_server_without_the_pack_is_named(env, tmp_path):
    """/object_info of a server that lacks the pack: it is named and not used."""
    from runner.batch.servers import ServerExecutor, ServerSetupError
    from aiohttp import web
    import asyncio
    import threading

    async def object_info(_request):
        return web.json_response({"KSampler": {"input": {}}})
    app = web.Application()
    app.router.add_get("/object_info", object_info)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    from browser_support.comfy_server import free_port
    port = free_port()
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        said = []
        executor = ServerExecutor([f"http://127.0.0.1:{port}", f"http://127.0.0.1:{free_port()}"],
                                  json.loads(WORKFLOW.read_text()), WORKFLOW.name, OPTIONS, say=said.append)
        with pytest.raises(ServerSetupError) as exc:
            executor.check()
        text = str(exc.value)
        assert f"127.0.0.1:{port}: lacks this pack" in text and "cannot be reached" in text
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


# -- a local Ray cluster, one actor killed ------------------------------------------------------------------

def test_ray_two_actors_one_killed_mid_batch_make_the_same_images(env, reference, tmp_path):
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install \"ray[data]\"; CI installs it)")
    from runner.batch.ray_pool import RayExecutor, runtime_env
    from runner.batch.run import run_batch
    base = cli_base_dir(env, tmp_path)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env=runtime_env({"COMFYUI_PATH": env.comfy_root}))
    try:
        executor = RayExecutor(None, json.loads(WORKFLOW.read_text()), WORKFLOW.name, OPTIONS,
                               comfy_root=env.comfy_root, comfy_args=["--cpu", "--base-directory", str(base)],
                               actors=2, gpus=0)
        killed = []

        def kill_first(job, outcome):
            if not killed:
                pid = int(outcome.worker.rsplit(":", 1)[1])
                os.kill(pid, signal.SIGKILL)
                killed.append(outcome.worker)
        out = tmp_path / "out"
        status = run_batch(read_manifest(reference["manifest"]), out, WORKFLOW.read_bytes(), OPTIONS,
                           Hooked(executor, kill_first))
        assert status == 0
        assert_complete(out, 6)
        assert images(out) == images(reference["out"])
        assert comparable(results(out)) == comparable(results(reference["out"]))
    finally:
        ray.shutdown()


def test_cli_says_what_to_give_and_exits_2(tmp_path, capsys):
    from runner.cli import main
    assert main(["batch", "--out", str(tmp_path / "o")]) == 2
    assert "give a manifest, or --faces DIR --prompts FILE" in capsys.readouterr().err
    bad = tmp_path / "m.txt"
    bad.write_text("face\n")
    assert main(["batch", str(bad)]) == 2
    assert "a manifest is a .csv, .tsv or .jsonl file" in capsys.readouterr().err
