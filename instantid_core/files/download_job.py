"""A download of catalog files started from the UI: the same downloader as the ``download`` command, run in a
background thread, with a state anyone can read at any time (per-file bytes on disk, status, the final message) and
a cancel that keeps the partial file for the next try.

Only catalog records are ever fetched, to the folders the caller (the server, from ComfyUI's ``folder_paths``)
gives: a request chooses groups by name and nothing else. Progress is read from the disk (the growing
``*.incomplete`` partial beside each target), so it needs no hook into huggingface_hub and shows a resumed
download's bytes from the start.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from .downloader import DownloadCancelled, DownloadError, FileResult, download, target_path
from .model_catalog import CATALOG, ModelFile, files_for, manual_instructions

IDLE, RUNNING, DONE, FAILED_STATE, CANCELLED = "idle", "running", "done", "failed", "cancelled"


def bytes_on_disk(file: ModelFile, target: Path) -> int:
    """What is there of ``file`` now: the whole target when its size is right, else the largest partial."""
    if target.is_file() and target.stat().st_size == file.size:
        return file.size
    partials = [p.stat().st_size for p in target.parent.glob(f"{target.name}.*.incomplete") if p.is_file()]
    return min(max(partials, default=0), file.size)


def file_states(files: Iterable[ModelFile], folders: Mapping[str, object]) -> List[dict]:
    """One row per file for the UI: where it goes, how big it is, how much of it is there (``installed``: the
    target has the published size; ``present``: a file is at the target at all, e.g. a test pack or another
    build, which the Model Doctor judges)."""
    rows = []
    for f in files:
        target = target_path(f, folders)
        have = bytes_on_disk(f, target)
        rows.append({"group": f.group, "name": f.name, "folder": f"{f.folder_kind}/{f.target}", "path": str(target),
                     "size": f.size, "bytes": have, "installed": have == f.size and target.is_file(), "present": target.is_file(),
                     "licence": f.licence, "url": f.url, "status": "", "detail": ""})
    return rows


class DownloadJob:
    """One download of ``groups`` into ``folders``; ``start()`` runs it in a daemon thread. ``finish`` (optional)
    makes the closing report (the doctor's text) once the files are done, whatever the outcome."""

    def __init__(self, groups: Iterable[str], folders: Mapping[str, object], *,
                 search: Optional[Mapping[str, Iterable[object]]] = None, endpoint: Optional[str] = None,
                 catalog: Tuple[ModelFile, ...] = CATALOG, cache_dir: Optional[str] = None,
                 finish: Optional[Callable[[], str]] = None):
        self.groups = list(groups)
        self.files = files_for(self.groups, catalog)  # an unknown group is a ValueError here, before any thread
        self.folders, self.search, self.endpoint = dict(folders), search, endpoint
        self.catalog, self.cache_dir, self._finish = catalog, cache_dir, finish
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._results: Dict[str, FileResult] = {}
        self.state, self.message, self.report = IDLE, "", ""
        self.started = self.ended = None
        self._thread: Optional[threading.Thread] = None

    # -- control ------------------------------------------------------------------------------------------------
    def start(self) -> "DownloadJob":
        self.state, self.started = RUNNING, time.time()
        self._thread = threading.Thread(target=self._run, name="instantid-download", daemon=True)
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._stop.set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.state != RUNNING

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    # -- state --------------------------------------------------------------------------------------------------
    def snapshot(self) -> dict:
        rows = file_states(self.files, self.folders)
        with self._lock:
            results = dict(self._results)
            state, message, report = self.state, self.message, self.report
        for row, f in zip(rows, self.files):
            done = results.get(f.name)
            if done is not None:
                row["status"], row["detail"], row["path"] = done.status, done.detail, str(done.path)
            elif state == RUNNING:
                row["status"] = "installed" if row["installed"] else ("downloading" if row["bytes"] else "waiting")
        return {"state": state, "groups": self.groups, "files": rows, "message": message, "report": report,
                "started": self.started, "ended": self.ended}

    # -- the work -----------------------------------------------------------------------------------------------
    def _run(self) -> None:
        state, message = DONE, ""
        try:
            report = download(self.groups, self.folders, endpoint=self.endpoint, progress=False,
                              catalog=self.catalog, cache_dir=self.cache_dir, search=self.search,
                              log=lambda line: None, should_stop=self._stop.is_set)
            self._keep(report)
        except DownloadCancelled as exc:
            state, message = CANCELLED, str(exc)
            self._keep(exc.report)
        except DownloadError as exc:
            state, message = FAILED_STATE, str(exc)
            self._keep(exc.report)
        except Exception as exc:  # a bug or a disk problem: shown in the panel, never a dead thread
            state = FAILED_STATE
            message = (f"{type(exc).__name__}: {exc}\nDownload these by hand:\n"
                       f"{manual_instructions(self.files, self.folders)}")
        closing = ""
        if self._finish is not None:
            try:
                closing = self._finish()
            except Exception as exc:
                closing = f"(the model check failed: {type(exc).__name__}: {exc})"
        with self._lock:
            self.state, self.message, self.report, self.ended = state, message, closing, time.time()

    def _keep(self, report) -> None:
        if report is None:
            return
        with self._lock:
            self._results.update((r.file.name, r) for r in report.results)
