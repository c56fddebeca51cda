"""The output folder is the batch's whole state: the images and ``results.jsonl``.

An image is written to a hidden temporary file and renamed into place, so a ``.png`` is never partial; its
record is appended to results.jsonl afterwards, one line per ``write`` call on a file opened for appending
(line-atomic). A kill between the two leaves an image without a record: that row is simply redone. A row is
done when its last record says ``ok``, carries the row's current key and its image exists."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, Iterator, List, Optional

from ..arg_checks import shown_path

RESULTS = "results.jsonl"
PART = ".part"


class OutputFolderError(RuntimeError):
    """--out cannot hold the batch (a file, a folder that cannot be made or written): the batch cannot start."""


class OutputFolder:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.results = self.folder / RESULTS

    def prepare(self) -> None:
        """Make the folder (or take the existing one); OutputFolderError when it cannot hold the batch."""
        try:
            if self.folder.exists() and not self.folder.is_dir():
                raise OutputFolderError(f"--out {self.folder} is a file, not a folder; give a folder for the images")
            self.folder.mkdir(parents=True, exist_ok=True)
            if not os.access(self.folder, os.W_OK | os.X_OK):
                raise OutputFolderError(f"--out {self.folder} cannot be written; give a folder you can write to")
        except (OSError, ValueError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise OutputFolderError(f"--out {shown_path(self.folder)} cannot be made ({why}); give another "
                                    f"folder") from exc
        for stale in self.folder.glob(f".*{PART}"):  # left by a killed run
            try:
                stale.unlink()
            except OSError:
                pass

    def records(self) -> Iterator[dict]:
        try:
            lines = self.results.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:  # a line cut by a crash of another writer: ignored, its row is redone
                continue
            if isinstance(record, dict):
                yield record

    def done_keys(self) -> Dict[str, str]:
        """output name -> key of the last record of a row made with it, when that image is still there (a row
        is known by its output name: unique in a batch, and it changes with the id, prompt and seed)."""
        last: Dict[str, dict] = {}
        for r in self.records():
            if r.get("output"):
                last[str(r["output"])] = r
        return {name: r.get("key") for name, r in last.items()
                if r.get("status") == "ok" and all((self.folder / o).is_file() for o in r.get("outputs") or ["?"])}

    def write_image(self, name: str, data: bytes) -> Path:
        target = self.folder / name
        tmp = self.folder / f".{name}.{os.getpid()}{PART}"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        return target

    def append(self, record: dict) -> None:
        line = (json.dumps(record, sort_keys=False, allow_nan=False) + "\n").encode("utf-8")
        fd = os.open(self.results, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def output_names(self, name: str, count: int) -> List[str]:
        """``name`` for the first image, ``<stem>-1.png`` … for more (as `run --out`)."""
        stem, suffix = os.path.splitext(name)
        return [name if i == 0 else f"{stem}-{i}{suffix}" for i in range(count)]


def record(job, status: str, outputs: Optional[List[str]] = None, error: Optional[str] = None,
           seconds: Optional[float] = None, score=None, worker: Optional[str] = None) -> dict:
    """One line of results.jsonl (the same fields whichever executor ran the row)."""
    return {"row": job.row, "line": job.line, "output": (outputs or [None])[0], "outputs": outputs or [],
            "seed": job.seed, "prompt": getattr(job, "prompt", None), "status": status, "error": error,
            "seconds": None if seconds is None else round(seconds, 3), "score": score,
            "key": getattr(job, "key", None) or None, "worker": worker}
