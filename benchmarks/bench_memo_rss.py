"""Benchmark: memory held by the all-in-one node across re-runs of the adapter loader, inside a real ComfyUI.

Alternates 24 prompts: all-in-one node with adapter A, the separate nodes with adapter B, all-in-one with A again…
Each switch changes the loader's input, so ComfyUI re-runs the loader and drops its cached copy of the other
adapter; the all-in-one node's memo must not keep any adapter alive. After every prompt it counts the InstantID
adapter modules still reachable (gc) and reads the process RSS; it reports the most adapter copies held and the
RSS slope over the runs (least squares, MB per run). Target: adapter copies held <= 1 (the loader's current
output, which ComfyUI caches), slope ~0. Adapters are ~80 MB each (fp32, resampler width 640) so a leaked copy is plain in the RSS.

    COMFYUI_PATH=/path/to/ComfyUI python benchmarks/bench_memo_rss.py [--runs 24]
"""
import argparse
import gc
import os
import tempfile
from pathlib import Path

import _common  # the pack and instantid_testkit importable; comfy_or_skip

SIZE = dict(dim=640, depth=4, heads=10, num_queries=16, embedding_dim=512, output_dim=2048, ff_mult=4)



def live_adapters(model_class) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, model_class))


def slope(values):
    n = len(values)
    mx, my = (n - 1) / 2, sum(values) / n
    return sum((i - mx) * (v - my) for i, v in enumerate(values)) / sum((i - mx) ** 2 for i in range(n))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=24)
    opts = parser.parse_args()
    cs = _common.comfy_or_skip("memo memory")
    if cs is None:
        return
    from instantid_testkit import comfy_env
    from instantid_testkit.adapter_fixtures import adapter_state, save_safetensors
    from instantid_testkit.prompts import all_in_one_chain, full_chain
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        env = comfy_env.comfy_env(Path(tmp))
        import folder_paths
        folder = Path(folder_paths.get_folder_paths("instantid")[0])
        for name, seed in (("big_a.safetensors", 1), ("big_b.safetensors", 2)):
            save_safetensors(adapter_state(env.hidden, size=SIZE, seed=seed), folder / name)
        folder_paths.filename_list_cache.clear()
        adapter_mb = (folder / "big_a.safetensors").stat().st_size / 2**20
        model_class = env.pack("instantid_core.compute.instantid_model").InstantIDModel

        runner = cs.PromptRunner()
        copies, rss = [], []
        for i in range(opts.runs):
            prompt = (all_in_one_chain(seed=3, steps=1, adapter="big_a.safetensors") if i % 2 == 0
                      else full_chain(seed=3, steps=1, adapter="big_b.safetensors"))
            runner.run(prompt)
            copies.append(live_adapters(model_class))
            rss.append(_common.rss_mb())
            print(f"  run {i + 1:2d} ({'all-in-one, A' if i % 2 == 0 else 'separate, B  '}): adapter modules alive "
                  f"{copies[-1]}, RSS {rss[-1]:.0f} MB")
    half = len(rss) // 2
    print(f"RESULT all-in-one memo over {opts.runs} alternating runs: adapter copies held at most {max(copies)} "
          f"(target <= 1: the loader's current output, cached by ComfyUI); RSS slope "
          f"{slope(rss[half:]):+.2f} MB/run over the second half ({slope(rss):+.2f} MB/run overall; adapter "
          f"{adapter_mb:.0f} MB; a leaked copy per run would be +{adapter_mb / 2:.0f} MB/run)")


if __name__ == "__main__":
    main()
