"""Read every row's files once: a photo that is not an image fails its row here, before any executor starts;
each row gets its resume key (a hash of everything its image depends on) and the names its photos take in
ComfyUI's input folder (content hashes, the same locally, on a server and on a Ray actor)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Tuple

from .manifest import IDENTITY_SUFFIX, BadRow, Job, Row
from ..workflow_prompt import RunnerError, decoded_png, staged_name

KEY_VERSION = 1


def file_digest(path: str, cache: Dict[str, Tuple[str, str]]) -> Tuple[str, str]:
    """(sha256 of the bytes, staged name) of a photo or identity file; raises RunnerError for a photo PIL
    cannot read."""
    if path not in cache:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise RunnerError(f"cannot read {path}: {exc}") from exc
        if Path(path).suffix.lower() == IDENTITY_SUFFIX:
            checked_identity(path)
            name = identity_name(data)
        else:
            name = staged_name(decoded_png(Path(path)))  # refuses what is not a photo, as `run` does
        cache[path] = (hashlib.sha256(data).hexdigest(), name)
    return cache[path]


def checked_identity(path: str) -> None:
    """A saved identity is checked when the batch is planned (a bad file fails its rows, not the batch)."""
    from ...instantid_core.errors import IdentityFileError
    from ...instantid_core.files.identity_file import load_identity
    try:
        load_identity(Path(path))
    except IdentityFileError as exc:
        raise RunnerError(f"face {path}: {exc}") from exc


def identity_name(data: bytes) -> str:
    """The name a saved identity gets in models/instantid_identities (its content hash, as `run --face` names
    it), so Load Identity finds it locally and on every Ray actor."""
    return f"instantid_{hashlib.sha1(data).hexdigest()[:12]}{IDENTITY_SUFFIX}"


def staged_bytes(path: str) -> bytes:
    """What goes into ComfyUI's input folder for a row's file (copied, uploaded, sent to a Ray actor): a photo's
    decoded image as PNG, never the file's own bytes (as `run` stages it); an identity file as it is."""
    if Path(path).suffix.lower() == IDENTITY_SUFFIX:
        return Path(path).read_bytes()
    return decoded_png(Path(path))


def batch_fingerprint(workflow_bytes: bytes, options: dict) -> str:
    """What every row shares: the workflow file and the batch-wide options (models, extra --set)."""
    return hashlib.sha256(json.dumps({"v": KEY_VERSION, "workflow": hashlib.sha256(workflow_bytes).hexdigest(),
                                      "options": options}, sort_keys=True).encode()).hexdigest()


def with_inputs(rows: List[Row], fingerprint: str) -> List[Row]:
    """Each Job with its key, person and staged names; a row whose files cannot be read becomes a BadRow."""
    cache: Dict[str, Tuple[str, str]] = {}
    out: List[Row] = []
    for r in rows:
        if isinstance(r, BadRow):
            out.append(r)
            continue
        try:
            files = list(r.faces) + [p for p in (r.pose, r.target) if p]
            digests = [file_digest(f, cache) for f in files]
        except RunnerError as exc:
            out.append(BadRow(r.line, r.row, str(exc), r.seed))
            continue
        face_hashes = [d[0] for d in digests[:len(r.faces)]]
        extra = dict(zip([k for k in ("pose", "target") if getattr(r, k)], [d[0] for d in digests[len(r.faces):]]))
        content = {"batch": fingerprint, "faces": face_hashes, "pose": extra.get("pose"),
                   "prompt": r.prompt, "negative": r.negative, "seed": r.seed, "width": r.width,
                   "height": r.height, "steps": r.steps, "sets": list(r.sets)}
        if r.target:  # only then: the keys of rows without a target stay what they were (no re-run on upgrade)
            content["target"] = extra["target"]
        key = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
        person = hashlib.sha256("".join(face_hashes).encode()).hexdigest()[:16]
        out.append(replace(r, key=key, person=person, staged=tuple((f, d[1]) for f, d in zip(files, digests))))
    return out


def by_person(jobs: List[Job]) -> List[Job]:
    """Rows of one person next to each other (in manifest order otherwise), so that ComfyUI's cache keeps
    that person's face analysis and projection from one image to the next."""
    first = {}
    for j in jobs:
        first.setdefault(j.person, len(first))
    return sorted(jobs, key=lambda j: (first[j.person], j.line))
