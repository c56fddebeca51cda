"""A small catalog of generated files in the real layout (adapter, IdentityNet, two antelopev2 files), and the
hub (tests/instantid_testkit/hub_server.py) serving them: the downloader's tests run on it instead of the multi-GB catalog."""
from __future__ import annotations

import hashlib
import random

from instantid_core.files.downloader import download
from instantid_core.files.model_catalog import ADAPTER, ANTELOPEV2, IDENTITYNET, ModelFile

REV_A, REV_B = "1" * 40, "2" * 40


def chunk_size() -> int:
    """huggingface_hub hands the body to the file in chunks of this size; a resume starts at a chunk boundary."""
    from huggingface_hub import constants
    return constants.DOWNLOAD_CHUNK_SIZE


def blob(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def record(group, repo, path, rev, kind, target, data) -> ModelFile:
    return ModelFile(group, repo, path, rev, kind, target, len(data), hashlib.sha256(data).hexdigest(), "test")


class Tiny:
    """The catalog, its bytes (``data``), and the hub serving them."""

    def __init__(self, hub: HubServer, big: int = 0):
        self.hub = hub
        self.data = {
            "adapter": blob(big or 3000, 1),
            "identitynet": blob(2000, 2),
            "scrfd": blob(1500, 3),
            "glintr": blob(1700, 4),
        }
        d = self.data
        self.catalog = (
            record(ADAPTER, "test/instantid", "ip-adapter.bin", REV_A, "instantid", "ip-adapter.bin", d["adapter"]),
            record(IDENTITYNET, "test/instantid", "ControlNetModel/diffusion_pytorch_model.safetensors", REV_A,
                   "controlnet", "instantid/diffusion_pytorch_model.safetensors", d["identitynet"]),
            record(ANTELOPEV2, "test/antelope", "scrfd_10g_bnkps.onnx", REV_B, "insightface",
                   "models/antelopev2/scrfd_10g_bnkps.onnx", d["scrfd"]),
            record(ANTELOPEV2, "test/antelope", "glintr100.onnx", REV_B, "insightface",
                   "models/antelopev2/glintr100.onnx", d["glintr"]),
        )
        for f, key in zip(self.catalog, d):
            hub.add(f.repo_id, f.path_in_repo, d[key], commit=f.revision)

    def run(self, folders, tmp_path, groups=None, **kw):
        lines = []
        if "endpoint" not in kw:
            kw["endpoint"] = self.hub.url
        report = download(groups, folders, catalog=self.catalog, cache_dir=str(tmp_path / "hf-cache"),
                          progress=False, log=lines.append, **kw)
        return report, lines
