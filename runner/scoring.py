"""The runner's `--score` and saved-identity `--face`: edits of the API prompt plus the PNG text they leave behind.

`--score` adds one InstantID Identity Score node per Save Image node (same images, the workflow's own face
analysis, its identities as references); after the run each saved PNG gets a text chunk ``instantid_identity_score``
(JSON) next to the chunks ComfyUI wrote (``prompt``; ``workflow`` when there is one). `--face person.safetensors` swaps the face photo's
Load Image + Face Detect for an InstantID Load Identity node.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Optional

SCORE = "InstantIDPrecision_IdentityScore"
LOAD_IDENTITY = "InstantIDPrecision_LoadIdentity"
FACE_DETECT = "InstantIDPrecision_FaceDetect"
FACE_ANALYSIS = "InstantIDPrecision_FaceAnalysisLoader"
PROJECTION = "InstantIDPrecision_ImageProjection"
SAVE = "SaveImage"
PNG_KEY = "instantid_identity_score"
METRIC = "cosine similarity of antelopev2 face embeddings (FaceSim)"


class ScoreSetupError(ValueError):
    """The workflow cannot be scored or take a saved identity; the message says why."""


def _consumers(api: dict, node_id: str, slot: Optional[int] = None) -> List[tuple]:
    return [(nid, key) for nid, n in api.items() for key, v in n["inputs"].items()
            if isinstance(v, list) and len(v) == 2 and str(v[0]) == str(node_id) and (slot is None or v[1] == slot)]


def use_saved_identity(api: dict, image_node: str, identity_file: str) -> None:
    """Replace Load Image ``image_node`` and the Face Detect nodes it feeds by one Load Identity node."""
    users = _consumers(api, image_node)
    others = [api[nid]["class_type"] for nid, _ in users if api[nid]["class_type"] != FACE_DETECT]
    if not users or others:
        raise ScoreSetupError(f"a saved identity (.safetensors) replaces a face photo that goes into InstantID Face "
                              f"Detect; in this workflow it goes into {', '.join(others) or 'nothing'}: pass a photo")
    load_id = f"{image_node}_identity"
    api[load_id] = {"class_type": LOAD_IDENTITY, "inputs": {"identity_file": identity_file},
                    "_meta": {"title": "Saved identity"}}
    for det, _ in users:
        if _consumers(api, det, 1):
            raise ScoreSetupError("the face photo's Face Detect preview is used in this workflow; a saved identity "
                                  "has no photo to preview: pass a photo")
        for nid, key in _consumers(api, det, 0):
            api[nid]["inputs"][key] = [load_id, 0]
        del api[det]
    del api[image_node]


def add_score_nodes(api: dict) -> Dict[str, str]:
    """One Identity Score node per Save Image node; returns {save node id: score node id}."""
    saves = [nid for nid, n in api.items() if n["class_type"] == SAVE and isinstance(n["inputs"].get("images"), list)]
    if not saves:
        return {}
    refs = _references(api)
    analysis = next((nid for nid, n in api.items() if n["class_type"] == FACE_ANALYSIS), None)
    if analysis is None:
        analysis = "instantid_score_face_analysis"
        api[analysis] = {"class_type": FACE_ANALYSIS, "inputs": {"provider": "auto", "det_size": "640 → 512 → 320"}}
    added = {}
    for save in saves:
        nid = f"instantid_score_{save}"
        api[nid] = {"class_type": SCORE, "_meta": {"title": "Identity score (--score)"}, "inputs": {
            "face_analysis": [analysis, 0], "images": list(api[save]["inputs"]["images"]),
            "face": "best match" if len(refs) > 1 else "largest", "face_index": 0, "on_no_face": "score 0",
            "preview_order": "batch order", **refs}}
        added[save] = nid
    return added


def _references(api: dict) -> dict:
    """The people to compare with: the workflow's Image Projections (each an identity), else its Face Detect /
    Load Identity nodes (each a set of faces); at most two, as the score node has two of each."""
    projections = [nid for nid, n in api.items() if n["class_type"] == PROJECTION]
    if projections:
        return {name: [nid, 0] for name, nid in zip(("identity", "identity_2"), projections)}
    faces = [nid for nid, n in api.items() if n["class_type"] in (FACE_DETECT, LOAD_IDENTITY)
             and "pose" not in n.get("_meta", {}).get("title", "").lower()]
    if faces:
        return {name: [nid, 0] for name, nid in zip(("faces", "faces_2"), faces)}
    raise ScoreSetupError("--score compares the images with the workflow's reference face, but this workflow has "
                          "no InstantID Image Projection, Face Detect or Load Identity node to take it from")


def scores_by_image(history: dict, added: Dict[str, str]) -> Dict[str, dict]:
    """{saved file name: its score record} from the run's UI outputs (rows are in batch order, as the files)."""
    outputs = history.get("outputs", {})
    found = {}
    for save, score in added.items():
        tables = outputs.get(score, {}).get(PNG_KEY) or []
        images = outputs.get(save, {}).get("images", [])
        if not tables:
            continue
        table = tables[0]
        labels = table["columns"][1:]
        for img, row in zip(images, table["rows"]):
            per = dict(zip(labels, row[1:]))
            mean = per.pop("mean", None)
            score = mean if mean is not None else next(iter(per.values()))
            note = next((n for n in table.get("notes", []) if n.startswith(f"image {row[0]}:")), "")
            found[img["filename"]] = {"score": score, "per_reference": per, "metric": METRIC,
                                      **({"note": note} if note else {})}
    return found


def write_png_score(path: Path, record: dict) -> None:
    """Add the score as a PNG text chunk, keeping every text chunk ComfyUI wrote (prompt, workflow)."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    with Image.open(path) as img:
        img.load()
        info = PngInfo()
        for key, value in getattr(img, "text", {}).items():
            if key != PNG_KEY:
                info.add_text(key, value)
        info.add_text(PNG_KEY, json.dumps(record))
        img.save(path, pnginfo=info)


def read_png_score(path: Path) -> Optional[dict]:
    from PIL import Image
    try:
        with Image.open(path) as img:
            text = getattr(img, "text", {}).get(PNG_KEY)
    except OSError:
        return None
    return json.loads(text) if text else None


def summary(record: dict) -> str:
    per = record.get("per_reference", {})
    parts = ", ".join(f"{k} {v:.4f}" for k, v in per.items()) if len(per) > 1 else ""
    line = f"identity score {record['score']:.4f}" + (f" ({parts})" if parts else "")
    return line + (f" — {record['note']}" if record.get("note") else "")
