"""Benchmark 6: `batch` vs `run` once per row, and two local workers vs one.

Same rows (2 people x 3 prompts, tiny models, 64x64, 2 steps, --cpu) in one run:
  A. `python <pack> batch manifest.csv` in one process: ComfyUI boots once, models load once, a person's face
     analysis and projection stay cached across their rows;
  B. `python <pack> run … ` once per row, each in its own process (a shell loop over the rows);
  C. `run_command.run_workflow` once per row in one process (a fresh executor per row: no cache between rows);
  D. Ray (local cluster) with 1 actor, then 2 actors (1 torch thread each), the same rows.
Prints per-image seconds (wall, and CPU time of the child processes for A and B: on a shared machine the wall
clock moves with everyone else's load, CPU time much less), the ratio A/B (and A/C), and the D speed-up, with the
machine's core count.

    COMFYUI_PATH=/path/to/ComfyUI python benchmarks/bench_batch.py [--rows-per-person 3] [--no-ray]
"""
import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common  # the pack and instantid_testkit importable

ROOT = _common.ROOT
WORKFLOW = ROOT / "example_workflows" / "instantid_basic_portrait.json"
TINY = {"checkpoint": "tiny_sdxl.safetensors", "controlnet": "tiny_identitynet.safetensors",
        "adapter": "ip-adapter.safetensors"}
SIZE = {"width": 64, "height": 64, "steps": 2}
PROMPTS = ["a portrait", "an oil painting of a person", "a photo at the beach", "a sketch", "a watercolour"]


def make_base(tmp: Path) -> Path:
    """A ComfyUI base directory: tiny models, and a custom node that registers the tiny SDXL family in every
    process that starts ComfyUI from it."""
    from instantid_testkit import comfy_support as cs
    from instantid_testkit import fixtures_onnx
    from instantid_testkit.adapter_fixtures import adapter_state, save_safetensors
    from instantid_testkit.comfy_env import TINY_PROJ, write_tiny_family_node
    base = tmp / "base"
    models = base / "models"
    for d in ("checkpoints", "controlnet", "instantid", "insightface"):
        (models / d).mkdir(parents=True, exist_ok=True)
    cs.write_tiny_checkpoint(str(models / "checkpoints" / TINY["checkpoint"]))
    cs.write_tiny_controlnet(str(models / "controlnet" / TINY["controlnet"]))
    hidden = [h for *_, h in cs.list_cross_attention_layers(cs.build_tiny_sdxl_model())]
    save_safetensors(adapter_state(hidden, size=TINY_PROJ, seed=5), models / "instantid" / TINY["adapter"])
    fixtures_onnx.make_antelope_pack(models / "insightface")
    (base / "custom_nodes").mkdir(exist_ok=True)
    write_tiny_family_node(base / "custom_nodes")
    return base


def make_rows(tmp: Path, per_person: int) -> Path:
    from PIL import Image
    from instantid_testkit.comfy_env import face_photo
    Image.fromarray(face_photo([(96, 160, 128, 2)])).save(tmp / "alice.png")
    Image.fromarray(face_photo([(300, 200, 128, 4)])).save(tmp / "bob.png")
    lines = ["id,face,prompt,seed"] + [f"{p},{p}.png,{t},{i}" for p in ("alice", "bob")
                                       for i, t in enumerate(PROMPTS[:per_person])]
    (tmp / "manifest.csv").write_text("\n".join(lines) + "\n")
    return tmp / "manifest.csv"


def rows_of(manifest: Path):
    import csv
    return list(csv.DictReader(manifest.read_text().splitlines()))


CPU = {"seconds": 0.0}  # CPU seconds (user + sys) of the child processes measured so far


def child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def cli(base: Path, *args) -> float:
    t, c = time.perf_counter(), child_cpu()
    done = subprocess.run([sys.executable, str(ROOT), "--comfy-args", f"--cpu --base-directory {base}", *args],
                          cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    CPU["seconds"] += child_cpu() - c
    return time.perf_counter() - t


def opts():
    return [f"--{k}={v}" for k, v in {**TINY, **SIZE}.items()]


def bench_batch_cli(base, manifest, tmp):
    CPU["seconds"] = 0.0
    return cli(base, "batch", str(manifest), "--out", str(tmp / "out_batch"), *opts()), CPU["seconds"]


def bench_run_per_row(base, manifest, tmp):
    CPU["seconds"] = 0.0
    total = 0.0
    for i, row in enumerate(rows_of(manifest)):
        total += cli(base, "run", str(WORKFLOW), "--face", str(manifest.parent / row["face"]), "--prompt", row["prompt"],
                     "--seed", row["seed"], "--out", str(tmp / f"run_{i}.png"), *opts())
    return total, CPU["seconds"]


def bench_in_process_per_row(base, manifest, tmp) -> float:
    """run_workflow per row in a child process that boots once (a fresh executor per row, as `run` makes)."""
    code = f"""
import sys, time, csv
import _common  # the pack, as ComfyUI names it
from runner.boot import boot_comfy, loaded_pack
boot_comfy({os.environ['COMFYUI_PATH']!r}, ["--cpu", "--base-directory", {str(base)!r}], custom_nodes=True)
loaded_pack({str(ROOT)!r})
from runner import run_command
from pathlib import Path
rows = list(csv.DictReader(open({str(manifest)!r})))
t = time.perf_counter()
for i, r in enumerate(rows):
    run_command.run_workflow(Path({str(WORKFLOW)!r}), out=Path({str(tmp)!r}) / f"inproc_{{i}}.png", verbose=False,
                          faces=[str(Path({str(manifest.parent)!r}) / r["face"])], prompt=r["prompt"],
                          seed=int(r["seed"]), width=64, height=64, steps=2, **{TINY!r})
print("SECONDS", time.perf_counter() - t)
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=_common.BENCHMARKS, capture_output=True, text=True)
    line = next((l for l in done.stdout.splitlines() if l.startswith("SECONDS")), None)
    if line is None:
        raise SystemExit(f"in-process run failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return float(line.split()[1])


def bench_ray(base, manifest, tmp, actors: int):
    """(wall seconds, steady rate): the whole run (actor start-up included), and rows per second between the first
    and the last finished row (start-up excluded)."""
    code = f"""
import sys, time, json
import _common  # the pack, as ComfyUI names it
import ray
from pathlib import Path
from runner.batch.manifest import read_manifest
from runner.batch.ray_pool import RayExecutor, runtime_env
ray.init(num_cpus={actors}, include_dashboard=False, log_to_driver=False, runtime_env=runtime_env())
from runner.batch.run import run_batch
wf = Path({str(WORKFLOW)!r})
options = {{**{TINY!r}, **{SIZE!r}, "sets": []}}
ex = RayExecutor(None, json.loads(wf.read_text()), wf.name, options, comfy_root={os.environ['COMFYUI_PATH']!r},
                 comfy_args=["--cpu", "--base-directory", {str(base)!r}], actors={actors}, gpus=0, threads=1)
stamps = []
class Timed:
    def run(self, jobs, sink):
        done = sink.done
        def timed(job, outcome):
            done(job, outcome)
            stamps.append(time.perf_counter())
        sink.done = timed
        ex.run(jobs, sink)
t = time.perf_counter()
status = run_batch(read_manifest(Path({str(manifest)!r})), Path({str(tmp)!r}) / "out_ray{actors}", wf.read_bytes(), options, Timed())
print("SECONDS", time.perf_counter() - t, (len(stamps) - 1) / (stamps[-1] - stamps[0]), status)
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=_common.BENCHMARKS, capture_output=True, text=True)
    line = next((l for l in done.stdout.splitlines() if l.startswith("SECONDS")), None)
    if line is None or not line.endswith(" 0"):
        raise SystemExit(f"ray run failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return float(line.split()[1]), float(line.split()[2])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows-per-person", type=int, default=3)
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--ray-only", action="store_true", help="only D (Ray, 1 vs 2 actors)")
    args = parser.parse_args()
    if not os.environ.get("COMFYUI_PATH") or _common.comfy_or_skip("batch vs run") is None:
        return  # the tiny models are written with ComfyUI's own code: booted here (--cpu) only for that
    cores = os.cpu_count()
    tmp = Path(os.environ.get("BENCH_TMP") or tempfile.mkdtemp(prefix="bench_batch_"))
    tmp.mkdir(parents=True, exist_ok=True)
    base = make_base(tmp)
    manifest = make_rows(tmp, args.rows_per_person)
    n = len(rows_of(manifest))
    print(f"{n} rows, {cores} CPU cores, tiny models, 64x64, 2 steps", flush=True)
    result = "RESULT"
    if not args.ray_only:
        result = run_abc(base, manifest, tmp, n)
    try:
        import ray  # noqa: F401
        have_ray = not args.no_ray
    except ImportError:
        have_ray = False
    if have_ray:
        (one, rate1), (two, rate2) = bench_ray(base, manifest, tmp, 1), bench_ray(base, manifest, tmp, 2)
        print(f"  D Ray, 1 actor (1 thread):  {one:7.1f} s, {rate1:.3f} rows/s after the first row;  "
              f"2 actors (1 thread each): {two:7.1f} s, {rate2:.3f} rows/s", flush=True)
        result += (f"; 2 local Ray workers vs 1 on {cores} cores: {rate2 / rate1:.2f}x the rows/s once started "
                   f"({one / two:.2f}x wall, actor start-up included)")
    print(result)
    if not os.environ.get("BENCH_TMP"):
        shutil.rmtree(tmp, ignore_errors=True)


def run_abc(base, manifest, tmp, n) -> str:
    a, a_cpu = bench_batch_cli(base, manifest, tmp)
    print(f"  A batch (one process, boot included):       {a:7.1f} s  {a / n:6.2f} s/image  "
          f"(CPU {a_cpu:.1f} s, {a_cpu / n:.2f} s/image)", flush=True)
    b, b_cpu = bench_run_per_row(base, manifest, tmp)
    print(f"  B run, one process per row:                 {b:7.1f} s  {b / n:6.2f} s/image  "
          f"(CPU {b_cpu:.1f} s, {b_cpu / n:.2f} s/image)", flush=True)
    c = bench_in_process_per_row(base, manifest, tmp)
    print(f"  C run_workflow per row, one booted process: {c:7.1f} s  {c / n:6.2f} s/image (boot excluded)",
          flush=True)
    return (f"RESULT batch per-image cost = {a_cpu / b_cpu:.2f}x of `run` per row in CPU time "
            f"({a / b:.2f}x wall), {a / c:.2f}x of C (wall)")


if __name__ == "__main__":
    main()
