"""The model doctor: is everything InstantID needs present, of the right kind, and will it run here?

Works from plain folder lists (the caller gets them from ComfyUI's folder_paths, or from --models), reads
only file headers where it can (safetensors headers, mmap'd pickles), and turns every problem into a line
that says the fix.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

from . import model_kinds
from .model_catalog import ADAPTER, ANTELOPEV2, IDENTITYNET, download_command, files_for

OK, WARN, PROBLEM = "ok", "warning", "problem"


@dataclass
class Check:
    what: str
    status: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = {OK: "[ ok ]", WARN: "[warn]", PROBLEM: "[FAIL]"}[self.status]
        return f"{mark} {self.what}: {self.detail}" + (f"\n       fix: {self.fix}" if self.fix else "")


@dataclass
class DoctorReport:
    checks: List[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status != PROBLEM for c in self.checks)

    def text(self) -> str:
        head = "InstantID model doctor: " + ("everything needed was found" if self.ok else "problems found")
        return "\n".join([head] + [c.line() for c in self.checks])


def _files(folders: Iterable[Path], suffixes: Sequence[str]) -> List[Path]:
    found = []
    for folder in folders:
        folder = Path(folder)
        if folder.is_dir():
            found += sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    return found


def _is_named(path: Path, folders: Sequence[Path], name: Optional[str]) -> bool:
    """True when ``name`` is None, the file's name, or its path inside one of ``folders`` as ComfyUI lists it
    (``instantid/diffusion_pytorch_model.safetensors``; '\\' or '/')."""
    if name is None or path.name == name:
        return True
    wanted = name.replace("\\", "/")
    return any(path.is_relative_to(f) and path.relative_to(f).as_posix() == wanted for f in map(Path, folders))


def _fetch_fix(group: str, where: str) -> str:
    """The fix that fetches a missing file: the download command, or the URL and the folder."""
    urls = " ; ".join(f.url for f in files_for([group]))
    return f"run `{download_command([group])}`, or download {urls} into {where}"


def _safetensors_kinds(folders: Sequence[Path], name: Optional[str]):
    """(path, model_kinds kind or None) of every .safetensors file (only ``name`` when given), headers only."""
    for path in _files(folders, (".safetensors",)):
        if _is_named(path, folders, name):
            yield path, model_kinds.classify(path)


def check_adapter(folders: Sequence[Path], name: Optional[str] = None) -> Check:
    from .adapter_file import check_finite, load_adapter
    from ..errors import AdapterFormatError

    where = ", ".join(str(f) for f in folders) or "models/instantid"
    candidates = [p for p in _files(folders, (".bin", ".safetensors")) if _is_named(p, folders, name)]
    target = folders[0] if folders else "ComfyUI/models/instantid"
    if not candidates:
        return Check("InstantID adapter", PROBLEM, f"no {name or 'ip-adapter.bin'} found in {where}",
                     _fetch_fix(ADAPTER, f"{target} (ip-adapter.bin, about 1.7 GB)"))
    problems = []
    for path in candidates:
        try:
            w = load_adapter(path)
            check_finite(w)  # the doctor reads every weight; the nodes check only what they use
        except AdapterFormatError as exc:
            problems.append(f"{path}: {exc}")
            continue
        return Check("InstantID adapter", OK, f"{path} ({len(w.ip_layers)} identity layers, "
                     f"{path.stat().st_size / 2**30:.2f} GiB)")
    return Check("InstantID adapter", PROBLEM, "; ".join(problems[:3]),
                 "use InstantX's ip-adapter.bin instead: " + _fetch_fix(ADAPTER, str(target)))


def check_identitynet(folders: Sequence[Path], name: Optional[str] = None) -> Check:
    seen = []
    for path, kind in _safetensors_kinds(folders, name):
        if kind == model_kinds.SDXL_CONTROLNET:
            return Check("IdentityNet ControlNet", OK, f"{path} (SDXL ControlNet, context 2048)")
        if kind == model_kinds.OTHER_CONTROLNET:
            seen.append(f"{path.name} (a ControlNet, but not SDXL-shaped)")
        elif kind in (model_kinds.SDXL_CHECKPOINT, model_kinds.OTHER_CHECKPOINT):
            seen.append(f"{path.name} (a full checkpoint: belongs in models/checkpoints)")
    (identitynet,) = files_for([IDENTITYNET])
    where = Path(folders[0] if folders else "ComfyUI/models/controlnet", *identitynet.target.split("/"))
    detail = "no SDXL ControlNet in diffusers format found" + (f"; found {', '.join(seen)}" if seen else "")
    return Check("IdentityNet ControlNet", PROBLEM, detail,
                 _fetch_fix(IDENTITYNET, f"{where.parent} (keep its name, about 2.5 GB)") +
                 f"; then pick {identitynet.target} in 'Load ControlNet Model'")


def check_antelope(roots: Sequence[Path], verify_sha256: bool = False) -> Check:
    from ..faces.antelope_files import FileStatus, check_antelopev2

    reports = [check_antelopev2(r, verify_sha256=verify_sha256) for r in roots] or []
    for r in reports:
        if r.ok:
            return Check("antelopev2 face models", OK, f"{r.folder}: 5 files" + (" (sha256 verified)" if verify_sha256 else ""))
    if not reports:
        return Check("antelopev2 face models", PROBLEM, "no insightface folder is configured",
                     _fetch_fix(ANTELOPEV2, "ComfyUI/models/insightface/models/antelopev2/"))
    best = max(reports, key=lambda r: sum(f.ok for f in r.files))
    fix = best.message().splitlines()[1:]
    # Missing or damaged files are fetched again; misplaced ones only need the moves listed.
    absent = {f.name for f in best.problems if f.status is not FileStatus.MISPLACED}
    if absent:
        fix.append(f"or run `{download_command([ANTELOPEV2])}`, which fetches them from:")
        fix += [f"  {f.url}" for f in files_for([ANTELOPEV2]) if f.name in absent]
    return Check("antelopev2 face models", PROBLEM, best.message().splitlines()[0],
                 "\n       ".join(fix) or "see the README's model table")


def check_checkpoint(folders: Sequence[Path], name: Optional[str] = None) -> Check:
    other = []
    for path, kind in _safetensors_kinds(folders, name):
        if kind == model_kinds.SDXL_CHECKPOINT:
            return Check("SDXL checkpoint", OK, f"{path}")
        if kind == model_kinds.OTHER_CHECKPOINT:
            other.append(path.name)
    detail = "no SDXL-family checkpoint found" + (f" (other families: {', '.join(other[:3])})" if other else "")
    fix = ("InstantID needs an SDXL-family checkpoint (SDXL 1.0, Juggernaut XL, RealVisXL, …) in "
           f"{folders[0] if folders else 'ComfyUI/models/checkpoints'}")
    return Check("SDXL checkpoint", WARN if name is None else PROBLEM, detail, fix)


def check_onnxruntime() -> List[Check]:
    installed = {}
    for dist in ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-silicon", "onnxruntime-openvino"):
        try:
            installed[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    checks = []
    if not installed:
        return [Check("onnxruntime", PROBLEM, "not installed", "pip install -r requirements.txt (from the pack folder)")]
    if len(installed) > 1:
        names = ", ".join(f"{k} {v}" for k, v in installed.items())
        keep = "onnxruntime-gpu" if "onnxruntime-gpu" in installed else next(iter(installed))
        drop = " ".join(k for k in installed if k != keep)
        checks.append(Check("onnxruntime", PROBLEM, f"several distributions installed ({names}); they overwrite "
                            f"each other's files", f"pip uninstall -y {' '.join(installed)} && pip install {keep}"
                            f"   (keep one: {keep}; remove {drop})"))
    try:
        import onnxruntime
        providers = onnxruntime.get_available_providers()
        gpu = [p for p in providers if p not in ("CPUExecutionProvider", "AzureExecutionProvider")]
        if gpu or not _torch_has_cuda():  # without a CUDA GPU there is nothing onnxruntime-gpu could use
            checks.append(Check("onnxruntime providers", OK, ", ".join(providers) + ("" if gpu else
                                "; face analysis runs on the CPU (this machine's torch has no CUDA GPU)")))
        else:
            checks.append(Check("onnxruntime providers", WARN, ", ".join(providers),
                                "face analysis runs on the CPU (fine: it runs once per photo). To use the GPU "
                                "torch uses: pip uninstall -y onnxruntime && pip install onnxruntime-gpu"))
    except Exception as exc:  # a broken double install fails right here
        checks.append(Check("onnxruntime import", PROBLEM, f"{type(exc).__name__}: {exc}",
                            "reinstall one distribution: pip uninstall -y onnxruntime onnxruntime-gpu && "
                            "pip install onnxruntime"))
    return checks


def _torch_has_cuda() -> bool:
    import torch
    return torch.cuda.is_available()


def check_torch() -> Check:
    import torch
    parts = [f"torch {torch.__version__}"]
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        parts.append(f"CUDA {name}, fp16 yes, bf16 {'yes' if torch.cuda.is_bf16_supported() else 'no'}")
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        parts.append("Apple MPS (projection runs in float32 there)")
    else:
        parts.append("CPU only: InstantID's embedding math runs in float32 (start ComfyUI with --cpu)")
    return Check("torch", OK, "; ".join(parts))


def run_doctor(instantid: Sequence[Path], controlnet: Sequence[Path], insightface: Sequence[Path],
               checkpoints: Sequence[Path], names: Optional[Dict[str, str]] = None,
               verify_sha256: bool = False) -> DoctorReport:
    """``names`` may pin the files a workflow asks for: {'adapter', 'controlnet', 'checkpoint'}."""
    names = names or {}
    report = DoctorReport()
    report.checks.append(check_adapter(list(instantid), names.get("adapter")))
    report.checks.append(check_identitynet(list(controlnet), names.get("controlnet")))
    report.checks.append(check_antelope(list(insightface), verify_sha256))
    report.checks.append(check_checkpoint(list(checkpoints), names.get("checkpoint")))
    report.checks += check_onnxruntime()
    report.checks.append(check_torch())
    return report
