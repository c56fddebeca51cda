"""Fetch InstantID's model files from the Hugging Face Hub into ComfyUI's model folders.

For each file of the chosen groups (records in ``instantid_core.files.model_catalog``):

1. The target already holds the published file (size and sha256 match): skipped, nothing is sent. The adapter
   and IdentityNet are chosen by name in a loader widget, so a verified copy under another name anywhere in
   their folders (``controlnet/instantid_controlnet.safetensors``, a second models folder) counts too: nobody
   wants a second 2.5 GB copy. antelopev2's files only work at their one place, so only that place counts.
2. The Hugging Face cache holds it (this revision, or ``main``): hard-linked (copied where links fail) in.
3. Otherwise huggingface_hub asks the hub for the file's size and sha256 (HEAD; ``HF_ENDPOINT``, ``HF_TOKEN``,
   ``HF_HUB_OFFLINE`` and proxies apply as everywhere in the ecosystem) and streams it, with its progress bar,
   into ``<target>.<sha256[:12]>.incomplete`` beside the target. A broken connection resumes with an HTTP Range
   request, in the same run and in the next one (the partial file stays when the run stops).
4. The finished partial is checked (size, then sha256, streamed) and only then renamed onto the target: the
   target path never holds a half-written or unverified file, and the rename copies nothing. Just before the
   rename the partial must still be the very file that was hashed (same inode, size and mtime).

Each target is worked on under a lock (``target_lock``, ``<target>.lock``): two runs at once never append to
the same partial; the second waits and then finds the verified file.

A file already at the target that does not match is never overwritten or deleted: once its replacement is
verified it is renamed ``<name>.bad-<n>`` (ComfyUI does not list it) for the user to inspect or delete.

Why not ``hf_hub_download(local_dir=...)``: it writes the repo's own path (``ControlNetModel/...``), not ComfyUI's
layout, and current huggingface_hub releases delete a partial download when the process stops, so an
interrupted 2.5 GB file would restart from zero. This module uses the library's metadata call and its streaming
GET (retries, Range resume, progress bar) and keeps the partial file itself.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from ..errors import InstantIDError
from ..faces.antelope_files import sha256_file
from .model_catalog import (ADAPTER, CATALOG, FOLDER_KINDS, IDENTITYNET, ModelFile, files_for, manual_instructions,
                            pack_folder_for_command)
from .target_lock import LockUnavailable, target_lock

SKIPPED, DOWNLOADED, FROM_CACHE, FAILED = "skipped", "downloaded", "from cache", "failed"
_ANY_NAME_GROUPS = (ADAPTER, IDENTITYNET)  # picked in a loader widget, so any file name in the folder works
_ATTEMPTS = 4  # body requests per file while each one still brings new bytes
_RETRY_STATUS = (408, 429, 500, 502, 503, 504)
# Exception class names (anywhere in the MRO) that mean "the hub could not be reached": requests', httpx's and
# the standard library's, so this works whichever HTTP stack the installed huggingface_hub uses.
_UNREACHABLE = {"ConnectionError", "ConnectError", "ConnectTimeout", "Timeout", "TimeoutException", "TimeoutError",
                "NetworkError", "TransportError", "ProxyError", "SSLError", "OfflineModeIsEnabled"}


class DownloadError(InstantIDError, RuntimeError):
    """A model file could not be downloaded. The message lists the manual URLs and the target folders;
    ``report`` holds what was done before the failure."""

    def __init__(self, message: str, report: Optional["DownloadReport"] = None):
        super().__init__(message)
        self.report = report


@dataclass
class FileResult:
    file: ModelFile
    path: Path
    status: str
    detail: str = ""

    def line(self) -> str:
        return f"{self.status:<10} {self.path}" + (f"  ({self.detail})" if self.detail else "")


@dataclass
class DownloadReport:
    results: List[FileResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.status != FAILED for r in self.results)

    def text(self) -> str:
        return "\n".join(r.line() for r in self.results)


class DownloadCancelled(InstantIDError, RuntimeError):
    """Stopped on request (the UI's Cancel, Ctrl-C). The partial file stays beside its target and the next download
    resumes it; ``report`` holds the files finished before."""

    def __init__(self, report: Optional["DownloadReport"] = None):
        super().__init__("stopped; the partial download is kept beside its target (*.incomplete) and the next "
                         "download resumes it")
        self.report = report


class _StoppableFile:
    """The partial file as huggingface_hub's http_get writes it: each write first asks whether to stop."""

    def __init__(self, out, should_stop: Callable[[], bool]):
        self._out, self._should_stop = out, should_stop

    def write(self, data):
        if self._should_stop():
            raise DownloadCancelled()
        return self._out.write(data)

    def __getattr__(self, name):
        return getattr(self._out, name)


class _FileFailed(Exception):
    """This file failed; the others may still work."""


class _Unreachable(Exception):
    """The hub cannot be reached: every further file would fail the same way."""


# --- where the files go ------------------------------------------------------------------------------------------

def folders_from_models_dir(models_dir: "os.PathLike[str] | str") -> Dict[str, Path]:
    """ComfyUI's default layout under one models folder (``--to <ComfyUI>/models``)."""
    root = Path(models_dir).expanduser().resolve()
    return {kind: root / kind for kind in FOLDER_KINDS}


def first_folders(get_folder_paths: Callable[[str], List[str]], models_dir: str) -> Dict[str, Path]:
    """The first configured folder of each kind (``get_folder_paths`` is ComfyUI's ``folder_paths`` function, so
    ``extra_model_paths.yaml`` counts: an entry with ``is_default: true`` comes first), which is also where
    ComfyUI-Manager downloads to; ComfyUI's default place for a kind nobody registered."""
    folders = {}
    for kind in FOLDER_KINDS:
        try:
            paths = get_folder_paths(kind)
        except KeyError:  # pack not loaded
            paths = []
        folders[kind] = Path(paths[0] if paths else os.path.join(models_dir, kind))
    return folders


def all_folders(get_folder_paths: Callable[[str], List[str]]) -> Dict[str, List[Path]]:
    """Every configured folder of each kind, where an installed copy may already sit."""
    found = {}
    for kind in FOLDER_KINDS:
        try:
            found[kind] = [Path(p) for p in get_folder_paths(kind)]
        except KeyError:
            found[kind] = []
    return found


def target_path(file: ModelFile, folders: Mapping[str, "os.PathLike[str] | str"]) -> Path:
    return Path(folders[file.folder_kind], *file.target.split("/"))


# --- the command ---------------------------------------------------------------------------------------------------

def download(groups: Optional[Iterable[str]] = None, folders: Optional[Mapping[str, "os.PathLike[str] | str"]] = None,
             *, endpoint: Optional[str] = None, token: Optional[str] = None, progress: bool = True,
             catalog: Tuple[ModelFile, ...] = CATALOG, cache_dir: Optional[str] = None,
             search: Optional[Mapping[str, Iterable["os.PathLike[str] | str"]]] = None,
             log: Callable[[str], None] = print, should_stop: Callable[[], bool] = lambda: False) -> DownloadReport:
    """Download the files of ``groups`` (all when None) into ``folders`` (folder kind -> directory).

    ``endpoint`` overrides ``HF_ENDPOINT``; ``token`` overrides ``HF_TOKEN`` / the stored login; ``cache_dir``
    the Hugging Face cache looked in; ``search`` (folder kind -> directories, default ``folders``) where an
    installed copy under another name is looked for. Prints one line per file through ``log``. Raises
    :class:`DownloadError` (after trying every file, or at once when the hub is unreachable) listing the manual URLs,
    and :class:`DownloadCancelled` as soon as ``should_stop()`` turns true (checked before each file and each write).
    """
    files = files_for(groups, catalog)
    folders = dict(folders or {})
    missing = sorted({f.folder_kind for f in files} - set(folders))
    if missing:
        raise ValueError(f"no target folder given for {', '.join(missing)}")
    _check_folders(files, folders)
    search = {kind: [Path(d) for d in dirs] for kind, dirs in (search or {}).items()}
    report = DownloadReport()
    with _progress_bars(progress):
        for i, file in enumerate(files):
            target = target_path(file, folders)
            try:
                if should_stop():
                    raise DownloadCancelled()
                dirs = search.get(file.folder_kind) or [Path(folders[file.folder_kind])]
                result = _fetch(file, target, endpoint, token, cache_dir, dirs, log, should_stop)
            except DownloadCancelled as exc:
                exc.report = report
                raise
            except _Unreachable as exc:
                left = [f for f in files[i:] if not _size_matches(target_path(f, folders), f.size)]
                raise DownloadError(_error_text(str(exc), left, folders), report) from exc.__cause__
            except _FileFailed as exc:
                result = FileResult(file, target, FAILED, str(exc))
            report.results.append(result)
            log(result.line())
    failed = [r for r in report.results if r.status == FAILED]
    if failed:
        reason = "; ".join(f"{r.file.name}: {r.detail}" for r in failed)
        raise DownloadError(_error_text(reason, [r.file for r in failed], folders), report)
    return report


def _check_folders(files: List[ModelFile], folders: Mapping[str, object]) -> None:
    """A file where a target folder must go (``models/instantid`` saved as a file) stops the run before anything
    is fetched, naming it."""
    for file in files:
        folder = target_path(file, folders).parent
        for place in (folder, *folder.parents):
            if place.exists():
                if not place.is_dir():
                    raise DownloadError(f"cannot put {file.name} in {folder}: {place} is a file, not a folder. "
                                        f"Move it away (or give another models folder with --to) and run the "
                                        f"command again")
                break


def _fetch(file: ModelFile, target: Path, endpoint, token, cache_dir, search_dirs: List[Path],
           log: Callable[[str], None], should_stop: Callable[[], bool] = lambda: False) -> FileResult:
    if target.is_file() and _matches(target, file.size, file.sha256):
        return FileResult(file, target, SKIPPED, "already there; size and sha256 match")
    copy = _installed_copy(file, target, search_dirs)
    if copy is not None:
        return FileResult(file, copy, SKIPPED, f"the same file under another name (size and sha256 match), not "
                                               f"downloaded again; pick it in loaders that name '{file.target}'")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target_lock(target, log):
            if _size_matches(target, file.size) and _matches(target, file.size, file.sha256):  # a run we waited for
                return FileResult(file, target, SKIPPED, "downloaded meanwhile by another run; size and sha256 match")
            return _stage_and_rename(file, target, endpoint, token, cache_dir, should_stop)
    except (LockUnavailable, PermissionError) as exc:  # a folder the user cannot write: the manual route remains
        raise _FileFailed(f"cannot write in {target.parent} ({exc.strerror or exc}); give yourself write access "
                          f"to that folder, or download the file by hand as below") from exc


def _stage_and_rename(file: ModelFile, target: Path, endpoint, token, cache_dir,
                      should_stop: Callable[[], bool]) -> FileResult:
    found, status = _from_cache(file, target, cache_dir), FROM_CACHE
    if found is None:
        found, status = _from_hub(file, target, endpoint, token, should_stop), DOWNLOADED
    staged, verified = found  # the partial and the fingerprint of what was hashed
    if _fingerprint(staged) != verified:
        staged.unlink(missing_ok=True)
        raise _FileFailed(f"{staged.name} changed after it was verified (another program wrote to it); it was "
                          f"deleted, run the command again")
    detail = f"{file.size} bytes, sha256 verified"
    if target.exists():
        detail += f"; the old, different file was kept as {_set_aside(target).name}"
    os.replace(staged, target)
    for stale in target.parent.glob(f"{target.name}.*.incomplete"):  # partials of an older upstream file
        stale.unlink(missing_ok=True)
    return FileResult(file, target, status, detail)


def _installed_copy(file: ModelFile, target: Path, dirs: List[Path]) -> Optional[Path]:
    """A verified copy of ``file`` under another name in ``dirs`` (searched as ComfyUI lists them: recursively,
    links followed), for the files a loader picks by name."""
    if file.group not in _ANY_NAME_GROUPS:
        return None
    suffix = Path(file.target).suffix.lower()
    for root in dirs:
        for folder, _, names in os.walk(root, followlinks=True):
            for name in sorted(names):
                path = Path(folder, name)
                if path.suffix.lower() == suffix and path != target and _size_matches(path, file.size) \
                        and _matches(path, file.size, file.sha256):
                    return path
    return None


def _size_matches(path: Path, size: int) -> bool:
    return path.is_file() and path.stat().st_size == size


def _matches(path: Path, size: int, sha256: Optional[str]) -> bool:
    return path.stat().st_size == size and (sha256 is None or sha256_file(path) == sha256)


def _partial_path(target: Path, tag: str) -> Path:
    # Named after the expected content: a partial of another version of the file is never resumed.
    return target.with_name(f"{target.name}.{tag[:12]}.incomplete")


def _from_cache(file: ModelFile, target: Path, cache_dir: Optional[str]) -> Optional[Tuple[Path, tuple]]:
    from huggingface_hub import try_to_load_from_cache

    for revision in dict.fromkeys((file.revision, "main")):
        try:
            cached = try_to_load_from_cache(file.repo_id, file.path_in_repo, cache_dir=cache_dir, revision=revision)
        except Exception:  # an unreadable cache is just a miss
            continue
        if isinstance(cached, str) and file.sha256 and _size_matches(Path(cached), file.size):
            staged = _partial_path(target, file.sha256)
            staged.unlink(missing_ok=True)
            try:
                os.link(cached, staged)  # same disk: no second copy of a multi-GB file
            except OSError:
                shutil.copyfile(cached, staged)
            try:
                return staged, _verify(staged, file.size, file.sha256)  # hashed where it will be renamed from
            except _FileFailed:  # a damaged cache entry is just a miss
                continue
    return None


def _from_hub(file: ModelFile, target: Path, endpoint: Optional[str], token: Optional[str],
              should_stop: Callable[[], bool] = lambda: False) -> Tuple[Path, tuple]:
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(file.repo_id, file.path_in_repo, revision=file.revision, endpoint=endpoint)
    try:
        meta = get_hf_file_metadata(url, token=token)
    except Exception as exc:
        raise _classify(exc, url, file) from exc
    hub_sha = meta.etag if _is_sha256(meta.etag) else None
    if file.sha256 and hub_sha and hub_sha != file.sha256:
        raise _FileFailed(f"{url} is a different file (sha256 {hub_sha}) than the published one ({file.sha256}); "
                          f"nothing was downloaded")
    if meta.size is not None and meta.size != file.size:
        raise _FileFailed(f"{url} has {meta.size} bytes, the published file has {file.size}; nothing was downloaded")
    expected_sha = file.sha256 or hub_sha
    partial = _partial_path(target, expected_sha or file.revision)
    have = partial.stat().st_size if partial.exists() else 0
    free = shutil.disk_usage(partial.parent).free
    if free < file.size - have:
        raise _FileFailed(f"{partial.parent} has {free} bytes free, {file.size - have} more are needed")
    _stream(meta.location, url, partial, file, token, should_stop)
    return partial, _verify(partial, file.size, expected_sha)


def _stream(location: str, resolve_url: str, partial: Path, file: ModelFile, token: Optional[str],
            should_stop: Callable[[], bool] = lambda: False) -> None:
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    headers = build_hf_headers(token=token)
    if _origin(location) != _origin(resolve_url):  # a CDN's signed URL: the token stays with the hub
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    for attempt in range(_ATTEMPTS):
        have = partial.stat().st_size if partial.exists() else 0
        if have > file.size:  # cannot be a prefix of the file
            partial.unlink()
            have = 0
        if have == file.size:
            return
        try:
            with open(partial, "ab") as out:
                http_get(location, _StoppableFile(out, should_stop), resume_size=have, headers=headers,
                         expected_size=file.size, displayed_filename=file.name)
            return
        except DownloadCancelled:
            raise
        except Exception as exc:
            grew = partial.exists() and partial.stat().st_size > have
            if grew and attempt + 1 < _ATTEMPTS and _transient(exc):
                continue  # resume from the new end with a Range request
            raise _classify(exc, resolve_url, file) from exc


def _verify(partial: Path, size: int, sha256: Optional[str]) -> tuple:
    """Check size and sha256 of what one open handle reads; returns that file's fingerprint (see _fingerprint)."""
    with open(partial, "rb") as stream:
        actual = os.fstat(stream.fileno()).st_size
        if actual != size:
            stream.close()
            partial.unlink()
            raise _FileFailed(f"the download has {actual} bytes, the published file has {size}; it was deleted, "
                              f"run the command again")
        digest = hashlib.sha256()
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
        verified = _fingerprint_of(os.fstat(stream.fileno()))
    if sha256 is not None and digest.hexdigest() != sha256:
        partial.unlink()
        raise _FileFailed(f"sha256 mismatch: the download has {digest.hexdigest()}, the published file has "
                          f"{sha256} (damaged on the way, or the server sent another file); it was deleted")
    if verified[2] != size:
        partial.unlink()
        raise _FileFailed(f"{partial.name} grew while it was being verified (another program wrote to it); it "
                          f"was deleted, run the command again")
    return verified


def _fingerprint(path: Path) -> tuple:
    return _fingerprint_of(os.stat(path))


def _fingerprint_of(st: os.stat_result) -> tuple:
    """Which file, and whether it was written since: (device, inode, size, mtime in ns)."""
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _set_aside(target: Path) -> Path:
    n = 1
    while target.with_name(f"{target.name}.bad-{n}").exists():
        n += 1
    aside = target.with_name(f"{target.name}.bad-{n}")
    os.replace(target, aside)
    return aside


# --- errors --------------------------------------------------------------------------------------------------------

def _status(exc: BaseException) -> Optional[int]:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _transient(exc: BaseException) -> bool:
    status = _status(exc)
    return status in _RETRY_STATUS if status is not None else True  # no HTTP answer: the connection broke


def _classify(exc: BaseException, url: str, file: ModelFile) -> Exception:
    status = _status(exc)
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if status in (401, 403):
        return _FileFailed(f"the hub refused access (HTTP {status}) to {url}: if {file.page} asks you to accept "
                           f"its terms, do so, then log in (`hf auth login`) or set HF_TOKEN")
    if status == 404:
        return _FileFailed(f"not found (HTTP 404): {url}; the repo, revision or file has moved, "
                           f"see {file.page}")
    if status in _RETRY_STATUS:
        return _Unreachable(f"{origin} answered HTTP {status}; try again later")
    names = {c.__name__ for c in type(exc).__mro__}
    if "OfflineModeIsEnabled" in names:
        return _Unreachable("HF_HUB_OFFLINE is set, so huggingface_hub does not go online; unset it")
    if names & _UNREACHABLE:
        return _Unreachable(f"could not reach {origin} ({type(exc).__name__}: {exc})")
    return _FileFailed(f"{type(exc).__name__}: {exc}")


def _error_text(reason: str, files: List[ModelFile], folders: Mapping[str, object]) -> str:
    partials = [p for f in files for p in target_path(f, folders).parent.glob(f"{f.name}.*.incomplete")]
    lines = [f"Could not download the InstantID model files: {reason}",
             "Download these by hand (a browser works) and put each file where its arrow points:",
             manual_instructions(files, folders),
             "Behind a mirror: set HF_ENDPOINT=<mirror URL>. Gated or private repo: set HF_TOKEN (or `hf auth login`).",
             f"Check them afterwards with: python {pack_folder_for_command()} doctor --sha256"]
    if partials:
        lines.append("Partial downloads are kept beside their targets (*.incomplete): run the same download "
                     "command again to resume them.")
    return "\n".join(lines)


# --- small helpers -------------------------------------------------------------------------------------------------

def _is_sha256(etag: Optional[str]) -> bool:
    return bool(etag) and len(etag) == 64 and all(c in "0123456789abcdef" for c in etag)


def _origin(url: str) -> Tuple[str, str, Optional[int]]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


@contextmanager
def _progress_bars(show: bool):
    if show:
        yield
        return
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    was_disabled = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            enable_progress_bars()
