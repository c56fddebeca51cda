"""Locate and verify insightface's ``antelopev2`` model pack.

Expected layout (``root`` is ComfyUI's ``models/insightface`` folder)::

    <root>/models/antelopev2/<the five .onnx files>

Users often unzip into one level too deep (``antelopev2/antelopev2/``) or drop
the files directly into ``<root>/models`` or ``<root>``.  :func:`check_antelopev2`
finds such files and every problem message names the exact source and target
paths.  Standard library only, so importing this module is free.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Iterable, Mapping, Optional, Tuple

from ..errors import AntelopeFilesError

__all__ = [
    "ANTELOPE_DIRNAME",
    "ANTELOPE_FILES",
    "LOADER_FILES",
    "AntelopeFilesError",
    "AntelopeReport",
    "FileReport",
    "FileSpec",
    "FileStatus",
    "antelope_dir",
    "check_antelopev2",
    "require_antelopev2",
    "sha256_file",
]

ANTELOPE_DIRNAME = "antelopev2"


@dataclass(frozen=True)
class FileSpec:
    size: Optional[int] = None  # bytes; None = unchecked
    sha256: Optional[str] = None  # lowercase hex; None = unchecked


# Published antelopev2 release (DESIGN.md section 2).
ANTELOPE_FILES: Mapping[str, FileSpec] = {
    "1k3d68.onnx": FileSpec(143607619, "df5c06b8a0c12e422b2ed8947b8869faa4105387f199c477af038aa01f9a45cc"),
    "2d106det.onnx": FileSpec(5030888, "f001b856447c413801ef5c42091ed0cd516fcd21f2d6b79635b1e733a7109dbf"),
    "genderage.onnx": FileSpec(1322532, "4fde69b1c810857b88c64a335084f1c3fe8f01246c9a191b48c7bb756d6652fb"),
    "glintr100.onnx": FileSpec(260665334, "4ab1d6435d639628a6f3e5008dd4f929edf4c4124b1a7169e1048f9fef534cdf"),
    "scrfd_10g_bnkps.onnx": FileSpec(16923827, "5838f7fe053675b1c7a08b633df49e7af5495cee0493c7dcf6697200b85b5b91"),
}

# The two files InstantID actually runs (detector + ArcFace recognizer).
LOADER_FILES: Tuple[str, ...] = ("scrfd_10g_bnkps.onnx", "glintr100.onnx")


class FileStatus(str, Enum):
    OK = "ok"
    MISSING = "missing"
    SIZE_MISMATCH = "size mismatch"
    SHA_MISMATCH = "sha mismatch"
    MISPLACED = "misplaced"


@dataclass(frozen=True)
class FileReport:
    name: str
    status: FileStatus
    expected_path: Path
    found_path: Optional[Path] = None  # where it is (== expected_path unless misplaced)
    size: Optional[int] = None
    expected_size: Optional[int] = None
    sha256: Optional[str] = None  # only when hashed
    detail: str = ""  # human-readable problem + fix; "" when ok

    @property
    def ok(self) -> bool:
        return self.status is FileStatus.OK


@dataclass(frozen=True)
class AntelopeReport:
    root: Path
    folder: Path  # <root>/models/antelopev2
    folder_exists: bool
    files: Tuple[FileReport, ...]

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.files)

    @property
    def problems(self) -> Tuple[FileReport, ...]:
        return tuple(f for f in self.files if not f.ok)

    def message(self) -> str:
        """One text saying what is wrong and exactly what to move/put where."""
        if self.ok:
            return f"antelopev2 OK: {self.folder}"
        lines = [f"insightface model pack 'antelopev2' is not usable. Expected folder: {self.folder}"]
        if not self.folder_exists:
            lines.append(f"The folder {self.folder} does not exist.")
        misplaced = [f for f in self.problems if f.status is FileStatus.MISPLACED]
        sources = {f.found_path.parent for f in misplaced if f.found_path is not None}
        if len(misplaced) > 1 and len(sources) == 1:
            src = sources.pop()
            lines.append(f"Move the .onnx files from {src} into {self.folder}:")
        lines.extend(f"  - {f.detail}" for f in self.problems)
        return "\n".join(lines)


def antelope_dir(root: "os.PathLike[str] | str") -> Path:
    return Path(root) / "models" / ANTELOPE_DIRNAME


def sha256_file(path: "os.PathLike[str] | str", chunk_size: int = 1 << 20) -> str:
    """Stream the file so a 260 MB model never sits in memory at once."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _candidates(root: Path, folder: Path, name: str) -> Iterable[Path]:
    """Likely wrong places for ``name``, most specific first."""
    models = root / "models"
    yield folder / ANTELOPE_DIRNAME / name  # the classic double nesting
    for base in (folder, models, root):  # any one-level-deep subfolder (e.g. 'antelopev2 (1)', root/antelopev2)
        if base.is_dir():
            for sub in sorted(p for p in base.iterdir() if p.is_dir()):
                if sub != folder:
                    yield sub / name
    yield models / name
    yield root / name


def _find_misplaced(root: Path, folder: Path, name: str) -> Optional[Path]:
    for path in _candidates(root, folder, name):
        if path.is_file():
            return path
    return None


def check_antelopev2(
    root: "os.PathLike[str] | str",
    *,
    required: Optional[Iterable[str]] = None,
    specs: Optional[Mapping[str, FileSpec]] = None,
    verify_size: bool = True,
    verify_sha256: bool = False,
) -> AntelopeReport:
    """Report the status of each required file (never raises for missing files).

    ``required`` defaults to the five published files; ``specs`` (name ->
    FileSpec) defaults to the published sizes/sha256.  Hashing is opt-in
    because it reads ~430 MB.
    """
    root = Path(root).expanduser()
    folder = antelope_dir(root)
    specs = ANTELOPE_FILES if specs is None else specs
    names = tuple(ANTELOPE_FILES if required is None else required)
    reports = []
    for name in names:
        expected = folder / name
        spec = specs.get(name, FileSpec())
        if not expected.is_file():
            found = _find_misplaced(root, folder, name)
            if found is not None:
                reports.append(FileReport(name, FileStatus.MISPLACED, expected, found,
                                          detail=f"move {found} to {expected}"))
            else:
                reports.append(FileReport(name, FileStatus.MISSING, expected,
                                          detail=f"missing: put {name} at {expected}"))
            continue
        size = expected.stat().st_size
        if verify_size and spec.size is not None and size != spec.size:
            reports.append(FileReport(
                name, FileStatus.SIZE_MISMATCH, expected, expected, size, spec.size,
                detail=(f"{expected} is {size} bytes, the published file is {spec.size} bytes "
                        f"(incomplete download?): replace it with the original {name}")))
            continue
        digest = None
        if verify_sha256 and spec.sha256 is not None:
            digest = sha256_file(expected)
            if digest != spec.sha256.lower():
                reports.append(FileReport(
                    name, FileStatus.SHA_MISMATCH, expected, expected, size, spec.size, digest,
                    detail=(f"{expected} has sha256 {digest}, the published file has {spec.sha256}: "
                            f"replace it with the original {name}")))
                continue
        reports.append(FileReport(name, FileStatus.OK, expected, expected, size, spec.size, digest))
    return AntelopeReport(root, folder, folder.is_dir(), tuple(reports))


def require_antelopev2(root: "os.PathLike[str] | str", **kwargs) -> Path:
    """Return the antelopev2 folder or raise :class:`AntelopeFilesError`.

    Same keyword arguments as :func:`check_antelopev2`.
    """
    report = check_antelopev2(root, **kwargs)
    if not report.ok:
        raise AntelopeFilesError(report.message())
    return report.folder
