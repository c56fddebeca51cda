"""The model downloads the UI starts (web/model_downloads.js): the same downloader as ``python <pack> download``
(instantid_core.files.downloader: catalog, pinned revisions, resume, size + sha256, never overwriting a good file,
one lock per target), into ComfyUI's own folders (folder_paths, extra_model_paths.yaml included).

  GET  /instantid_precision/models              every catalog file: where it goes, size, bytes there, licence;
                                                and the current (or last) download
  POST /instantid_precision/models/download     body {"groups": [...]} of the catalog's group names, nothing else;
                                                409 while a download runs
  POST /instantid_precision/models/cancel       stop it; the partial file is kept and the next download resumes it

Only the catalog's files are fetched, only to ComfyUI's folders: a request names groups, never a URL or a path.
One download at a time per server. When it ends, the answer carries the Model Doctor's report. Every request
passes the pack's own origin and body checks (nodes/route_guard.py), and no answer holds an absolute path of the
machine: folders are named relative to ComfyUI's models folder ("models/instantid/…"), an extra_model_paths.yaml
folder outside it as "<instantid folder>"."""
from __future__ import annotations

import logging
import os
import threading
from typing import List, Optional, Tuple

import folder_paths

from ..instantid_core.files.download_job import DownloadJob, file_states
from ..instantid_core.files.downloader import all_folders, first_folders
from ..instantid_core.files.model_catalog import ALL_GROUPS, CATALOG, GROUPS, OPTIONAL_GROUPS, download_command
from .route_guard import Refused, check_json_type, check_origin, parse_json, read_body, refusal_response
from .server_routes import add_route

BASE = "/instantid_precision/models"
MAX_BODY_BYTES = 4096   # {"groups": [...]} of a few names
MAX_BODY_DEPTH = 4
log = logging.getLogger(__name__)
# What this server offers and from where (None: huggingface_hub's default, HF_ENDPOINT honoured); a test server
# swaps in small files of the same layout on a local hub.
catalog = CATALOG
endpoint = None
_job: Optional[DownloadJob] = None
_job_lock = threading.Lock()


def _folders():
    return first_folders(folder_paths.get_folder_paths, folder_paths.models_dir)


def _doctor_text() -> str:
    from .doctor_node import doctor_report
    return doctor_report(False).text()


def _with_size_on_disk(rows: list) -> list:
    """``on_disk``: the size of the file at the target, so a file of another size (another build, a test pack)
    shows what is there rather than a download that has not started."""
    for row in rows:
        try:
            row["on_disk"] = os.path.getsize(row["path"]) if row["present"] else row["bytes"]
        except OSError:  # removed since it was looked at
            row["on_disk"] = 0
    return rows


def status_payload() -> dict:
    files = [f for f in catalog if f.group in ALL_GROUPS]
    return without_absolute_paths({"groups": list(GROUPS), "optional_groups": list(OPTIONAL_GROUPS),
                                   "files": _with_size_on_disk(file_states(files, _folders())), "download": _job.snapshot() if _job else None,
                                   "command": download_command()}, path_labels())


def path_labels() -> List[Tuple[str, str]]:
    """(absolute folder, the name an answer shows for it), longest first: ComfyUI's models folder is "models",
    a configured folder outside it "<kind folder>", ComfyUI's own folder "ComfyUI", the home folder "~"."""
    models = os.path.abspath(folder_paths.models_dir)
    labels = {models: "models"}
    for kind, paths in all_folders(folder_paths.get_folder_paths).items():
        for p in paths:
            p = os.path.abspath(p)
            if not (p == models or p.startswith(models + os.sep)):
                labels[p] = f"<{kind} folder>"
    labels.setdefault(os.path.abspath(getattr(folder_paths, "base_path", models)), "ComfyUI")
    labels.setdefault(os.path.expanduser("~"), "~")
    return sorted(((k, v) for k, v in labels.items() if len(k) > 1), key=lambda kv: -len(kv[0]))


def without_absolute_paths(value, labels: List[Tuple[str, str]]):
    """``value`` (an answer) with every absolute folder of ``labels`` written by its name (the folder names the
    page shows; the machine's layout stays on the machine)."""
    if isinstance(value, str):
        for root, label in labels:
            if root in value:
                value = value.replace(root, label)
        return value
    if isinstance(value, dict):
        return {k: without_absolute_paths(v, labels) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [without_absolute_paths(v, labels) for v in value]
    return value


def start_download(body) -> DownloadJob:
    """A new download for the request body; ValueError for a body that is not just known group names."""
    global _job
    groups = body.get("groups") if isinstance(body, dict) else None
    if not isinstance(groups, list) or not groups or not all(isinstance(g, str) for g in groups):
        raise ValueError('the body must be {"groups": [...]} with one or more of: ' + ", ".join(ALL_GROUPS))
    extra = sorted(set(body) - {"groups"})
    if extra:
        raise ValueError(f"unknown field(s) {', '.join(extra)}: a download names catalog groups only")
    unknown = [g for g in groups if g not in ALL_GROUPS]
    if unknown:
        raise ValueError(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(ALL_GROUPS)}")
    with _job_lock:
        if _job is not None and _job.running:
            raise RuntimeError("a download is already running")
        _job = DownloadJob(dict.fromkeys(groups), _folders(), search=all_folders(folder_paths.get_folder_paths),
                           endpoint=endpoint, catalog=catalog, finish=_doctor_text).start()
    log.info("[InstantID] downloading %s from the UI", ", ".join(groups))
    return _job


async def _json_body(request):
    """A state-changing request's checked JSON body (route_guard: origin, type, size, depth)."""
    check_origin(request, changes_state=True)
    check_json_type(request)
    return parse_json(await read_body(request, MAX_BODY_BYTES), MAX_BODY_DEPTH)


async def get_status(request):
    from aiohttp import web
    try:
        check_origin(request, changes_state=False)
    except Refused as exc:
        return refusal_response(exc)
    return web.json_response(status_payload())


async def post_download(request):
    from aiohttp import web
    try:
        start_download(await _json_body(request))
    except Refused as exc:
        return refusal_response(exc)
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    except RuntimeError as exc:
        return web.json_response({"error": str(exc), **status_payload()}, status=409)
    return web.json_response(status_payload())


async def post_cancel(request):
    from aiohttp import web
    try:
        await _json_body(request)  # its content does not matter ({} from the page); its kind and origin do
    except Refused as exc:
        return refusal_response(exc)
    if _job is not None:
        _job.cancel()
    return web.json_response(status_payload())


add_route("GET", BASE, get_status)
add_route("POST", BASE + "/download", post_download)
add_route("POST", BASE + "/cancel", post_cancel)
