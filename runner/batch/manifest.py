"""The batch's rows: a manifest (CSV or JSONL, one row = one image) or faces folder x prompts file x seeds.

A row that cannot run (unknown column, bad seed, NaN, a path outside the allowed folders…) becomes a
``BadRow`` with its error; the other rows still run. Columns:

  id        name of the row in file names and results (default: the first face photo's name)
  face      face photo(s) or a saved identity (.safetensors); several separated by ';' (JSONL: a list), one per
            face input of the workflow in order (Face photo A, B, C of the three-people and family workflows)
  pose      photo whose face pose to copy
  target    the photo whose faces are replaced (face swap, group photo, family photo workflows), as `run --target`
  prompt, negative
  seed      integer 0 … 2**64-1 (default: --seed)
  width, height, steps
  set       'Node title.input=value' overrides, as `run --set` (CSV: several separated by newlines;
            JSONL: a list); a column named 'set:Node title.input' sets that input to the cell's value
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple, Union

COLUMNS = ("id", "face", "pose", "target", "prompt", "negative", "seed", "width", "height", "steps", "set")
SET_PREFIX = "set:"
MAX_SEED = 2 ** 64 - 1
IDENTITY_SUFFIX = ".safetensors"
IMAGE_GLOBS = ("*.png", "*.jpg", "*.jpeg", "*.webp", "*.bmp")


class ManifestError(ValueError):
    """The manifest as a whole cannot be read (not a bad row: those are BadRow)."""


@dataclass(frozen=True)
class Job:
    line: int                       # manifest line (CSV/JSONL) or position in the cross product, from 1
    row: str                        # id: names the output file and the results record
    faces: Tuple[str, ...]          # absolute paths
    pose: Optional[str] = None
    target: Optional[str] = None    # absolute path of the photo whose faces are replaced
    prompt: Optional[str] = None
    negative: Optional[str] = None
    seed: int = 0
    width: Optional[int] = None
    height: Optional[int] = None
    steps: Optional[int] = None
    sets: Tuple[str, ...] = ()
    output: str = ""                # file name in the output folder
    key: str = ""                   # hash of everything the image depends on (inputs.py)
    person: str = ""                # content hash of the face files: rows of one person run together
    staged: Tuple[Tuple[str, str], ...] = field(default=(), compare=False)  # (path, name in ComfyUI's input)

    def overrides(self) -> dict:
        """What workflow_prompt.apply_overrides takes from a row."""
        return dict(faces=list(self.faces), pose=self.pose, target=self.target, prompt=self.prompt,
                    negative=self.negative, seed=self.seed, width=self.width, height=self.height, steps=self.steps,
                    sets=list(self.sets))

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["faces"], d["sets"], d["staged"] = list(self.faces), list(self.sets), [list(p) for p in self.staged]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Job":
        d = dict(d)
        d["faces"], d["sets"] = tuple(d["faces"]), tuple(d["sets"])
        d["staged"] = tuple(tuple(p) for p in d.get("staged", ()))
        return cls(**d)


@dataclass(frozen=True)
class BadRow:
    line: int
    row: str
    error: str
    seed: Optional[int] = None


Row = Union[Job, BadRow]


class _RowError(ValueError):
    pass


def slug(text: Optional[str], limit: int = 40) -> str:
    """File-name part for a prompt: lower-case words joined by '-'; a long prompt is cut and gets a short hash
    of the whole, so two prompts that start alike still get two names."""
    if not text:
        return "workflow-prompt"
    words = re.findall(r"[a-z0-9]+", text.lower())
    s = "-".join(words) or "prompt"
    if len(s) > limit:
        s = s[:limit].rstrip("-") + "-" + hashlib.sha1(text.encode()).hexdigest()[:6]
    return s


MAX_ID = 80  # of an output name's 255 bytes: the id, the prompt's slug (<= 47), the seed (<= 20), the extension


def _safe_id(text: str) -> str:
    """The id as a file-name part; a long one is cut and gets a short hash of the whole (two ids that start
    alike keep two names), so that no output name exceeds what file systems allow."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "row"
    if len(s) > MAX_ID:
        s = s[:MAX_ID - 9].rstrip("-.") + "-" + hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return s


class PathRules:
    """Relative paths are read from the manifest's folder; every path must lie in one of the allowed folders
    (the manifest's folder, the faces folder, --allow-dir), so a manifest cannot send arbitrary files to a
    server."""

    def __init__(self, base: Path, allowed: Sequence[Path]):
        self.base = Path(base).resolve()
        self.allowed = [Path(a).resolve() for a in allowed]

    def resolve(self, value: str, column: str) -> str:
        try:
            path = (self.base / Path(value).expanduser()).resolve()
            is_file = path.is_file()
        except (RuntimeError, ValueError, OSError) as exc:  # ~nosuchuser, a NUL byte, a name too long
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise _RowError(f"{column} {_shown(value)} is not a usable path ({why})") from exc
        if not any(path == a or a in path.parents for a in self.allowed):
            raise _RowError(f"{column} {value!r} is outside the allowed folders "
                            f"({', '.join(str(a) for a in self.allowed)}); move it there or pass --allow-dir")
        if not is_file:
            raise _RowError(f"{column} file not found: {path}")
        return str(path)


def _shown(value: str, limit: int = 120) -> str:
    """A path as an error message shows it: quoted, control characters escaped, a long one cut."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"… ({len(value)} characters)"


def _int(value, column: str, lo: int, hi: int) -> Optional[int]:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise _RowError(f"{column} must be an integer, got {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise _RowError(f"{column} must be a whole finite number, got {value!r}")
        value = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[+-]?\d+", text):
            raise _RowError(f"{column} must be an integer, got {value!r}")
        value = int(text)
    elif not isinstance(value, int):
        raise _RowError(f"{column} must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise _RowError(f"{column} {value} is out of range {lo} … {hi}")
    return value


def _text(value, column: str) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        raise _RowError(f"{column} is {value!r}, not text")
    if not isinstance(value, str):
        raise _RowError(f"{column} must be text, got {value!r}")
    return value if value.strip() else None


def _list(value, column: str, sep: str) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(sep) if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v for v in value if v.strip()]
    raise _RowError(f"{column} must be text or a list of text, got {value!r}")


def _set_value(key: str, value) -> str:
    """A 'set:Title.input' cell as a `--set` item; numbers must be finite."""
    if isinstance(value, float) and not math.isfinite(value):
        raise _RowError(f"column {key!r}: {value} is not a finite number")
    raw = value if isinstance(value, str) else json.dumps(value)
    return f"{key[len(SET_PREFIX):]}={raw}"


def parse_row(data: dict, line: int, paths: PathRules, default_seed: int, sep: str = ";") -> Row:
    given_id = data.get("id")
    row_id = _safe_id(str(given_id)) if given_id not in (None, "") else f"row{line}"
    seed = None
    try:
        unknown = [k for k, v in data.items() if k not in COLUMNS and not str(k).startswith(SET_PREFIX)
                   and v not in (None, "")]
        if unknown:
            raise _RowError(f"unknown column(s) {unknown}: the columns are {', '.join(COLUMNS)} and "
                            f"'{SET_PREFIX}Node title.input'")
        seed = _int(data.get("seed"), "seed", 0, MAX_SEED)
        seed = default_seed if seed is None else seed
        faces = [paths.resolve(f, "face") for f in _list(data.get("face"), "face", sep)]
        if not faces:
            raise _RowError("no face photo (column 'face')")
        pose = _text(data.get("pose"), "pose")
        target = _text(data.get("target"), "target")
        sets = _list(data.get("set"), "set", "\n")
        for s in sets:
            _check_set(s)
        sets += [_set_value(k, v) for k, v in data.items() if str(k).startswith(SET_PREFIX) and v not in (None, "")]
        if given_id in (None, ""):
            row_id = _safe_id(Path(faces[0]).stem)
        return Job(line=line, row=row_id, faces=tuple(faces),
                   pose=paths.resolve(pose, "pose") if pose else None,
                   target=paths.resolve(target, "target") if target else None,
                   prompt=_text(data.get("prompt"), "prompt"), negative=_text(data.get("negative"), "negative"),
                   seed=seed, width=_int(data.get("width"), "width", 16, 16384),
                   height=_int(data.get("height"), "height", 16, 16384),
                   steps=_int(data.get("steps"), "steps", 1, 10000), sets=tuple(sets))
    except _RowError as exc:
        return BadRow(line, row_id, str(exc), seed)


def _check_set(item: str) -> None:
    target, eq, raw = item.partition("=")
    if not eq or "." not in target:
        raise _RowError(f"set expects 'Node title.input=value', got {item!r}")
    if raw.strip().lower() in ("nan", "inf", "-inf", "infinity", "-infinity"):
        raise _RowError(f"set {item!r}: {raw} is not a finite number")


def read_manifest(path: Path, default_seed: int = 0, allowed: Sequence[Path] = ()) -> List[Row]:
    path = Path(path)
    paths = PathRules(path.parent, [path.parent, *allowed])
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"cannot read manifest {_shown(str(path))}: "
                            f"{getattr(exc, 'strerror', None) or exc}") from exc
    rows: List[Row] = []
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                data = json.loads(line)  # Python's json reads NaN: refused per value above
            except ValueError as exc:
                rows.append(BadRow(number, f"row{number}", f"not a JSON object: {exc}"))
                continue
            except RecursionError:
                rows.append(BadRow(number, f"row{number}", "not a manifest row: the JSON is nested too deeply"))
                continue
            if not isinstance(data, dict):
                rows.append(BadRow(number, f"row{number}", "not a JSON object"))
                continue
            rows.append(parse_row(data, number, paths, default_seed))
    elif path.suffix.lower() in (".csv", ".tsv"):
        reader = csv.DictReader(text.splitlines(keepends=True), delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        if not reader.fieldnames or "face" not in reader.fieldnames:
            raise ManifestError(f"{path}: the first line must name the columns, 'face' among them "
                                f"(columns: {', '.join(COLUMNS)})")
        for number, data in _csv_records(reader, path):
            extra = data.pop(None, None)
            if extra:
                rows.append(BadRow(number, f"row{number}", f"more cells than columns: {extra}"))
                continue
            rows.append(parse_row(data, number, paths, default_seed))
    else:
        raise ManifestError(f"{path}: a manifest is a .csv, .tsv or .jsonl file")
    return name_outputs(rows)


def _csv_records(reader, path: Path):
    """(line number, record) for each CSV record; a file csv cannot read on (e.g. a cell beyond csv's field size
    limit) is not a manifest."""
    while True:
        try:
            data = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ManifestError(f"{path}: line {reader.line_num} cannot be read as CSV ({exc})") from exc
        yield reader.line_num, data


def cross_product(faces_dir: Path, prompts_file: Path, seeds: Iterable[int], allowed: Sequence[Path] = ()) -> List[Row]:
    """Every face photo (or saved identity) in ``faces_dir`` x every non-empty line of ``prompts_file`` x
    every seed; the person's file name is the row id."""
    faces_dir, prompts_file = Path(faces_dir), Path(prompts_file)
    try:
        found = faces_dir.is_dir()
    except OSError as exc:  # e.g. a name longer than the file system allows
        raise ManifestError(f"--faces {_shown(str(faces_dir))} cannot be used ({exc.strerror or exc})") from exc
    if not found:
        raise ManifestError(f"faces folder not found: {faces_dir}")
    try:
        prompts = [p.strip() for p in prompts_file.read_text(encoding="utf-8").splitlines()
                   if p.strip() and not p.lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"cannot read prompts file {_shown(str(prompts_file))}: "
                            f"{getattr(exc, 'strerror', None) or exc}") from exc
    files = sorted({f for pattern in IMAGE_GLOBS + ("*" + IDENTITY_SUFFIX,) for f in faces_dir.glob(pattern)})
    if not files or not prompts:
        raise ManifestError(f"nothing to do: {len(files)} face files in {faces_dir}, {len(prompts)} prompts")
    paths = PathRules(faces_dir, [faces_dir, *allowed])
    rows, line = [], 0
    for face in files:
        for prompt in prompts:
            for seed in seeds:
                line += 1
                rows.append(parse_row({"id": face.stem, "face": face.name, "prompt": prompt, "seed": seed},
                                      line, paths, 0))
    return name_outputs(rows)


def name_outputs(rows: List[Row]) -> List[Row]:
    """``<id>_<prompt slug>_<seed>.png``; a second row with the same name is an error (give the rows ids)."""
    seen = {}
    out: List[Row] = []
    for r in rows:
        if isinstance(r, Job):
            name = f"{r.row}_{slug(r.prompt)}_{r.seed}.png"
            if name in seen:
                r = BadRow(r.line, r.row, f"same output file {name} as line {seen[name]}: give the rows "
                                          f"different ids (column 'id')", r.seed)
            else:
                seen[name] = r.line
                r = replace(r, output=name)
        out.append(r)
    return out
