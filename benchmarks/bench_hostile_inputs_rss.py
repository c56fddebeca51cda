"""Benchmark: hostile inputs, repeated: every case refused clearly, and the process memory flat (issue 26).

Three surfaces that need no ComfyUI, each with the probe's reproductions:
  identity   crafted .safetensors identity files (NaN / Inf / 1e30 keypoints, NaN / 0 / negative / huge photo
             sizes, bad photo_sha256 headers, bad indices and counts), loaded with load_identity
  routes     request bodies for the routes' JSON parsing (nodes/route_guard.py): nested 10^5 deep, not JSON,
             too large, wrong types
  batch      manifests (runner/batch/manifest.py) with a saved identity, a 300-character id, ~nosuchuser, a NUL
             byte, a 5,000-character path, a JSONL line nested 10^5 deep

A case is "clear" when it ends in the surface's own error (IdentityFileError / Refused / a BadRow, or a clean
load for the valid controls), "raw" for any other exception. All cases run --runs times (default 40, as the
probe); the process RSS is read after each round. It prints, per surface, cases tried / clear / raw, and the RSS
slope over the rounds (least squares, MB per round; the first 5 rounds are warm-up).
Target: raw = 0; RSS slope ~0 (under 0.5 MB per round).

    python benchmarks/bench_hostile_inputs_rss.py [--runs 40]
"""
import argparse
import asyncio
import gc
import importlib.util
import json
import os
import tempfile
from pathlib import Path

import numpy as np

import _common  # the pack importable

WARMUP = 5



def slope(values):
    n = len(values)
    mx, my = (n - 1) / 2, sum(values) / n
    return sum((i - mx) * (v - my) for i, v in enumerate(values)) / sum((i - mx) ** 2 for i in range(n))


# -- identity files -------------------------------------------------------------------------------------------

def identity_cases(folder: Path):
    """(name, path, expected clear outcome: 'error' or 'ok') for crafted files beside one valid file."""
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file
    from instantid_core.faces.face_analysis import Face, ImageFaces
    from instantid_core.files import identity_file as idf

    rng = np.random.default_rng(0)

    def face(x, y):
        kps = np.array([[x + 10, y + 10], [x + 30, y + 10], [x + 20, y + 20], [x + 12, y + 30], [x + 28, y + 30]],
                       np.float32)
        return Face(np.array([x, y, x + 40, y + 40], np.float32), kps, 0.9, rng.normal(size=512).astype(np.float32))

    photos = [ImageFaces((640, 640), (face(100, 100),)), ImageFaces((640, 480), (face(50, 60), face(300, 200)))]
    valid = idf.save_identity(folder, "valid", photos)

    def spoiled(name, header=None, tensors=None):
        with safe_open(str(valid), framework="numpy") as f:
            meta = dict(f.metadata())
        t = load_file(str(valid))
        meta.update(header or {})
        t.update(tensors(t) if tensors else {})
        path = folder / f"{name}.safetensors"
        save_file(t, str(path), metadata=meta)
        return path

    def kps(value):
        def make(t):
            k = t["kps"].copy()
            k[0, 0, 0] = value
            return {"kps": k}
        return make

    def sizes(value, dtype=np.int64):
        return lambda t: {"photo_sizes": np.full((2, 2), value, dtype)}

    crafted = {
        "kps NaN": (None, kps(np.nan)), "kps inf": (None, kps(np.inf)), "kps 1e30": (None, kps(1e30)),
        "photo size NaN": (None, sizes(np.nan, np.float32)), "photo size 0": (None, sizes(0)),
        "photo size negative": (None, sizes(-640)), "photo size 10000": (None, sizes(10_000)),
        "photo size 1e6": (None, sizes(10**6)), "photo size 30000": (None, sizes(30_000)),
        "index NaN": (None, lambda t: {"photo_of_face": np.full(3, np.nan, np.float32)}),
        "index out of range": (None, lambda t: {"photo_of_face": np.array([0, 1, 2], np.int64)}),
        "sha 5": ({"photo_sha256": "5"}, None), "sha null": ({"photo_sha256": "null"}, None),
        "sha deep": ({"photo_sha256": "[" * 10_000 + "]" * 10_000}, None),
        "face_count huge": ({"face_count": "999999"}, None), "photo_count text": ({"photo_count": "two"}, None),
    }
    cases = [("valid", valid, "ok")]
    cases += [(name, spoiled(name.replace(" ", "_"), h, t), "error") for name, (h, t) in crafted.items()]
    junk = folder / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    cases.append(("junk bytes", junk, "error"))
    return cases


def run_identity(cases):
    from instantid_core.errors import IdentityFileError
    from instantid_core.files.identity_file import load_identity
    clear = raw = 0
    for _name, path, expected in cases:
        try:
            load_identity(path)
            clear += expected == "ok"
            raw += expected != "ok"
        except IdentityFileError:
            clear += expected == "error"
            raw += expected != "error"
        except Exception:  # noqa: BLE001 - counting what is not a clear refusal is the point
            raw += 1
    return clear, raw


# -- route bodies ---------------------------------------------------------------------------------------------

def load_route_guard():
    """nodes/route_guard.py on its own (the nodes package imports ComfyUI; the guard needs only numpy)."""
    path = _common.ROOT / "nodes" / "route_guard.py"
    spec = importlib.util.spec_from_file_location("instantid_route_guard", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Body:
    """The parts of an aiohttp request read_body uses."""

    def __init__(self, raw: bytes, announce: bool = True):
        self.content_length = len(raw) if announce else None
        self.content = self
        self._rest = raw

    async def read(self, n):
        chunk, self._rest = self._rest[:n], self._rest[n:]
        return chunk


ROUTE_BODIES = [("deep 10^5", b"[" * 100_000 + b"]" * 100_000, "refused"),
                ("deep 2000, under the size bound", b"[" * 2_000 + b"]" * 2_000, "refused"),
                ("deep objects", b'{"a":' * 600 + b"1" + b"}" * 600, "refused"),
                ("not JSON", b"{not json", "refused"), ("NaN", b'{"groups": NaN', "refused"),
                ("too large, chunked", b'{"x": "' + b"a" * 5_000 + b'"}', "refused"),
                ("valid", b'{"groups": ["adapter"]}', "ok"), ("brackets in strings", b'{"g": "[[[[[[[["}', "ok")]


def run_routes(guard):
    clear = raw = 0

    async def one(raw_body, announce):
        body = await guard.read_body(Body(raw_body, announce), 4096)
        return guard.parse_json(body, 4)

    for _name, raw_body, expected in ROUTE_BODIES:
        for announce in (True, False):
            try:
                asyncio.run(one(raw_body, announce))
                ok = expected == "ok"
            except guard.Refused:
                ok = expected == "refused"
            except Exception:  # noqa: BLE001
                ok = False
            clear += ok
            raw += not ok
    return clear, raw


# -- batch manifests ------------------------------------------------------------------------------------------

def batch_manifest(folder: Path, identity: Path) -> Path:
    from PIL import Image
    Image.new("RGB", (64, 64)).save(folder / "me.png")
    rows = [{"id": "identity", "face": identity.name}, {"id": "a" * 300, "face": "me.png"},
            {"id": "home", "face": "~nosuchuser/x.png"}, {"id": "nul", "face": "a\x00b.png"},
            {"id": "long", "face": "y" * 5000 + ".png"}, {"id": "ok", "face": "me.png", "seed": 2}]
    path = folder / "manifest.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n" + "[" * 100_000 + "]" * 100_000 + "\n")
    return path


def run_batch_manifest(path: Path):
    from runner.batch.inputs import batch_fingerprint, with_inputs
    from runner.batch.manifest import BadRow, Job, read_manifest
    try:
        rows = with_inputs(read_manifest(path), batch_fingerprint(b"{}", {}))
    except Exception:  # noqa: BLE001 - the probe's batch aborted here: every row counts as raw
        return 0, 7
    expected = {"identity": Job, "home": BadRow, "nul": BadRow, "long": BadRow, "ok": Job}
    got = {r.row: type(r) for r in rows}
    clear = sum(got.get(k) is v for k, v in expected.items())
    clear += any(isinstance(r, Job) and r.row.startswith("a" * 40) and len(r.output) < 200 for r in rows)
    clear += any(isinstance(r, BadRow) and "nested too deeply" in r.error for r in rows)
    return clear, 7 - clear


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        tmp = Path(tmp)
        cases = identity_cases(tmp)
        guard = load_route_guard()
        manifest = batch_manifest(tmp, cases[0][1])
        surfaces = {"identity": lambda: run_identity(cases), "routes": lambda: run_routes(guard),
                    "batch": lambda: run_batch_manifest(manifest)}
        totals = {name: [0, 0, 0] for name in surfaces}  # tried, clear, raw
        rss = []
        for _ in range(opts.runs):
            for name, surface in surfaces.items():
                clear, raw = surface()
                totals[name][0] += clear + raw
                totals[name][1] += clear
                totals[name][2] += raw
            gc.collect()
            rss.append(_common.rss_mb())
    print(f"{'surface':<10} {'cases/round':>11} {'tried':>6} {'clear':>6} {'raw':>4}")
    for name, (tried, clear, raw) in totals.items():
        print(f"{name:<10} {tried // opts.runs:>11} {tried:>6} {clear:>6} {raw:>4}")
    steady = rss[WARMUP:] if len(rss) > WARMUP + 2 else rss
    mb_per_round = slope(steady) if len(steady) > 1 else float("nan")
    raw_total = sum(t[2] for t in totals.values())
    print(f"RSS: first {rss[0]:.1f} MB, after warm-up {steady[0]:.1f} MB, last {rss[-1]:.1f} MB")
    print(f"RESULT hostile inputs x{opts.runs}: {raw_total} raw of {sum(t[0] for t in totals.values())} "
          f"(target 0); RSS slope {mb_per_round:+.3f} MB/round over rounds {WARMUP + 1}-{opts.runs} "
          f"(target ~0, < 0.5)")


if __name__ == "__main__":
    main()
