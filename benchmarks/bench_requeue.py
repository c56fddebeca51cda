"""Benchmark 4: re-queueing a prompt after changing only ip_weight (then only cn_strength) inside a real ComfyUI.

Uses ComfyUI's own executor with its output cache (tests/comfy_support PromptRunner, CLASSIC cache as in main.py)
and the tiny models (--cpu). Counts how often face analysis and the projection really execute by wrapping the
pack's code where the work happens (FaceAnalyzer.analyze and Resampler.forward, so any node path is counted, the
all-in-one node's too), and times each run. Target: 0 re-runs of face analysis / projection after the change.

    COMFYUI_PATH=/path/to/ComfyUI python benchmarks/bench_requeue.py
"""
import functools
import os
import statistics
import tempfile
import time
from pathlib import Path

import _common  # the pack and instantid_testkit importable; comfy_or_skip

STEPS = 2


class Counter:
    def __init__(self):
        self.counts = {}

    def wrap(self, cls, name, label):
        original = getattr(cls, name)

        @functools.wraps(original)
        def counted(*args, **kwargs):
            self.counts[label] = self.counts.get(label, 0) + 1
            return original(*args, **kwargs)

        setattr(cls, name, counted)

    def take(self):
        out, self.counts = dict(self.counts), {}
        return out


def run_case(cs, counter, make_prompt, label):
    runner = cs.PromptRunner()
    rows = []
    for step, kw in (("first", dict(ip_weight=0.8, cn_strength=0.8)), ("ip_weight 0.8->0.5", dict(ip_weight=0.5, cn_strength=0.8)),
                     ("cn_strength 0.8->0.6", dict(ip_weight=0.5, cn_strength=0.6))):
        counter.take()
        t = time.perf_counter()
        result = runner.run(make_prompt(seed=3, steps=STEPS, **kw))
        seconds = time.perf_counter() - t
        counts = counter.take()
        rows.append((step, seconds, counts, result.executed))
        print(f"  [{label}] {step:<22} {seconds * 1000:8.1f} ms  face analysis x{counts.get('face', 0)}, "
              f"projection x{counts.get('projection', 0)}; executed {result.executed}")
    return rows


def main():
    cs = _common.comfy_or_skip("requeue")
    if cs is None:
        return
    from instantid_testkit import comfy_env
    from instantid_testkit.prompts import all_in_one_chain, full_chain
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        env = comfy_env.comfy_env(Path(tmp))
        counter = Counter()
        counter.wrap(env.pack("instantid_core.faces.face_analysis").FaceAnalyzer, "analyze", "face")
        counter.wrap(env.pack("instantid_core.compute.resampler").Resampler, "forward", "projection")
        # warm-up in a separate executor: loads the checkpoint/ControlNet/ONNX sessions into ComfyUI's model
        # cache and warms torch, so 'first' below is a cold *prompt* (nothing cached) but not a cold process
        cs.PromptRunner().run(full_chain(seed=99, steps=STEPS))
        counter.take()
        cases = {"separate nodes": run_case(cs, counter, full_chain, "separate nodes"),
                 "all-in-one": run_case(cs, counter, all_in_one_chain, "all-in-one")}
        # repeat the separate-node case for a steadier ratio (other processes may share the 2 cores)
        ratios = [cases["separate nodes"][1][1] / cases["separate nodes"][0][1]]
        for _ in range(4):
            rows = run_case(cs, counter, full_chain, "separate nodes, repeat")
            ratios.append(rows[1][1] / rows[0][1])
    sep, simple = cases["separate nodes"], cases["all-in-one"]
    reruns = sum(c.get("face", 0) + c.get("projection", 0) for rows in cases.values() for _, _, c, _ in rows[1:])
    first_counts = sep[0][2]
    print(f"RESULT re-queue after ip_weight change: second/first wall time {statistics.median(ratios):.2f}x "
          f"(median of {len(ratios)} fresh executors; e.g. {sep[1][1] * 1000:.0f} ms vs {sep[0][1] * 1000:.0f} ms); face analysis / "
          f"projection re-runs after weight changes: {reruns} (target 0; first run: face x{first_counts.get('face', 0)}, "
          f"projection x{first_counts.get('projection', 0)}; all-in-one node: "
          f"{sum(c.get('face', 0) + c.get('projection', 0) for _, _, c, _ in simple[1:])} re-runs)")


if __name__ == "__main__":
    main()
