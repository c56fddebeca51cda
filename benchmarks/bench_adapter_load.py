"""Benchmark 5: loading a real-size (1.7 GB) adapter: time, resident memory, and what first use costs.

For each format (.bin, .safetensors), in fresh subprocesses (page cache warm: the files were just written):
  lazy   load_instantid_model alone (time, RSS it adds), then the first projection + every layer's K/V (time)
  eager  the same with a full NaN/Inf scan of every weight after loading (what the loader did before)
  plain  a plain, non-mapped read of the same file (torch.load for .bin, safetensors.torch.load of its bytes)
  peak   load, then touch every weight: (peak RSS - RSS before loading) / file size (no second copy: <= 1.3)
The three timed kinds run interleaved, best of --repeats (3) each. Targets: the loader takes milliseconds and holds ~0 GB,
load / plain read <= 0.2. First use reads every weight once (the K/V product needs all of them), so load + first
use is compared with the plain read and with the eager scan, not held to 0.2.

    python benchmarks/bench_adapter_load.py [--repeats 3]
"""
import os
import subprocess
import sys
import tempfile

import torch

import _common  # noqa: F401
from _common import real_size_state

PRELUDE = r"""
import sys, time
import _common  # the pack, as ComfyUI names it
import torch
torch.set_num_threads(2)
def rss():
    with open('/proc/self/status') as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith('VmRSS'))
path = {path!r}
"""

LAZY = PRELUDE + r"""
from instantid_core.files.adapter_file import load_instantid_model
from instantid_core.compute.identity import compute_identity_kv, project_identity
before = rss(); t0 = time.perf_counter()
model = load_instantid_model(path)
if {eager}:
    from instantid_core.files.adapter_file import check_finite, load_adapter
    check_finite(load_adapter(path))
t_load = time.perf_counter() - t0; held = rss() - before
cpu = torch.device('cpu')
tokens = project_identity(model, torch.randn(1, 512) * 20, cpu, torch.float32)
kv = compute_identity_kv(model, tokens, cpu, torch.float32)
print(t_load, held, time.perf_counter() - t0)
"""

PLAIN = PRELUDE + r"""
t0 = time.perf_counter()
if path.endswith('.bin'):
    state = torch.load(path, map_location='cpu', weights_only=True)
else:
    from safetensors.torch import load
    with open(path, 'rb') as f:
        state = load(f.read())
print(time.perf_counter() - t0)
"""

PEAK = PRELUDE + r"""
from instantid_core.files.adapter_file import load_instantid_model
before = rss()
model = load_instantid_model(path)
total = sum(float(p.float().sum()) * 0 + p.numel() for p in model.parameters())  # touch every weight
# VmHWM is this process's own peak. ru_maxrss is not: across fork + exec Linux carries the parent's
# high-water mark into the child, and the parent held the 1.7 GB state dict while writing the files.
with open('/proc/self/status') as f:
    peak = next(int(l.split()[1]) * 1024 for l in f if l.startswith('VmHWM'))
print(before, peak)
"""


def _child(template, path, eager=False):
    code = template.format(root=str(_common.ROOT), path=str(path), eager=eager)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=_common.BENCHMARKS).stdout
    return [float(x) for x in out.split()]


def main():
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs of each timed kind (best is kept)")
    repeats = parser.parse_args().repeats
    from instantid_testkit.adapter_fixtures import save_bin, save_safetensors
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        state = real_size_state(torch.float32)
        paths = [save_bin(state, os.path.join(tmp, "ip-adapter.bin")),
                 save_safetensors(state, os.path.join(tmp, "ip-adapter.safetensors"))]
        del state
        results = []
        for path in paths:
            size = os.path.getsize(path)
            name = os.path.basename(path)
            runs = {"plain": [], "lazy": [], "eager": []}
            for _ in range(repeats):
                runs["plain"].append(_child(PLAIN, path)[0])
                runs["lazy"].append(_child(LAZY, path))
                runs["eager"].append(_child(LAZY, path, eager=True))
            plain = min(runs["plain"])
            t_load, held, t_first = min(runs["lazy"], key=lambda r: r[2])
            eager = min(r[2] for r in runs["eager"])
            before, peak = _child(PEAK, path)
            ratio = (peak - before) / size
            results.append((name, t_load, held, t_load / plain, t_first / plain, t_first / eager, ratio))
            print(f"{name} ({size / 2**30:.2f} GiB): load {t_load * 1000:.0f} ms holding {held / 2**30:.3f} GiB; "
                  f"load + first projection + K/V {t_first:.2f} s (with the old full scan {eager:.2f} s); "
                  f"plain read {plain:.2f} s; peak RSS above start / file = {ratio:.2f} "
                  f"(raw peak / file = {peak / size:.2f})")
        print("RESULT adapter load: " + "; ".join(
            f"{n}: load {t * 1000:.0f} ms holding {h / 2**30:.3f} GiB, load / plain read {lr:.3f}, "
            f"load + first use / plain read {r:.2f} (/ with full scan {e:.2f}), peak RSS / file {p:.2f}"
            for n, t, h, lr, r, e, p in results) + " (targets: ms, ~0 GiB, load <= 0.2 x plain, peak <= 1.3)")


if __name__ == "__main__":
    main()
