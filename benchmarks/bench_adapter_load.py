"""Benchmark 5: peak RSS while loading a real-size (1.7 GB) adapter, as a ratio to the file size.

Each load runs in a fresh subprocess; the figure is (peak RSS - RSS before loading) / file size, and the raw
peak / file size is printed beside it. Target <= 1.3 (no second copy of the weights).

    python benchmarks/bench_adapter_load.py [--keep DIR]
"""
import os
import subprocess
import sys
import tempfile

import torch

import _common  # noqa: F401
from _common import real_size_state

CHILD = r"""
import sys
sys.path.insert(0, {root!r})
import torch
from instantid_core.compute.instantid_model import load_instantid_model
def rss():
    with open('/proc/self/status') as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith('VmRSS'))
before = rss()
model = load_instantid_model({path!r})
total = sum(float(p.float().sum()) * 0 + p.numel() for p in model.parameters())  # touch every weight
# VmHWM is this process's own peak. ru_maxrss is not: across fork + exec Linux carries the parent's
# high-water mark into the child, and the parent held the 1.7 GB state dict while writing the files.
with open('/proc/self/status') as f:
    peak = next(int(l.split()[1]) * 1024 for l in f if l.startswith('VmHWM'))
print(before, peak)
"""


def main():
    from instantid_testkit.adapter_fixtures import save_bin, save_safetensors
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        state = real_size_state(torch.float32)
        paths = [save_bin(state, os.path.join(tmp, "ip-adapter.bin")),
                 save_safetensors(state, os.path.join(tmp, "ip-adapter.safetensors"))]
        del state
        ratios = []
        for path in paths:
            size = os.path.getsize(path)
            out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(_common.ROOT), path=str(path))],
                                 capture_output=True, text=True, check=True).stdout.split()
            before, peak = int(out[0]), int(out[1])
            ratio = (peak - before) / size
            ratios.append(ratio)
            print(f"load {os.path.basename(path)} ({size / 2**30:.2f} GiB): peak RSS above start / file = {ratio:.2f}, "
                  f"raw peak / file = {peak / size:.2f}")
        print(f"RESULT adapter load peak RSS / file size: bin {ratios[0]:.2f}, safetensors {ratios[1]:.2f} "
              f"(target <= 1.3)")


if __name__ == "__main__":
    main()
