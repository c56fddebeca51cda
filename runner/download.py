"""The ``download`` command's side of the downloader (``instantid_core.files.downloader``, shared with the
server route the UI uses): ComfyUI's configured folders, and the plan a dry run prints."""
from __future__ import annotations

from typing import Dict, Iterable, List, Mapping, Optional
from pathlib import Path

from ..instantid_core.files.downloader import (DOWNLOADED, FAILED, FROM_CACHE, SKIPPED, DownloadError,  # noqa: F401
                                             DownloadReport, all_folders, download, first_folders,
                                             folders_from_models_dir, target_path)
from ..instantid_core.files.model_catalog import files_for


def folders_from_folder_paths() -> Dict[str, Path]:
    import folder_paths  # ComfyUI's, in a process that has booted it (the command line reads its files instead)
    return first_folders(folder_paths.get_folder_paths, folder_paths.models_dir)


def search_folders_from_folder_paths() -> Dict[str, List[Path]]:
    import folder_paths
    return all_folders(folder_paths.get_folder_paths)


def plan_lines(groups: Optional[Iterable[str]], folders: Mapping[str, Path]) -> List[str]:
    """What ``download`` would do for each file, decided from sizes alone: nothing is hashed or fetched."""
    lines = []
    for file in files_for(groups):
        target = target_path(file, folders)
        size = target.stat().st_size if target.is_file() else None
        if size == file.size:
            state = "present"
        elif size is None:
            state = f"fetch  {file.size / 1e6:,.1f} MB from {file.url}"
        else:
            state = f"fetch  {file.size / 1e6:,.1f} MB (the file there has {size} bytes, not {file.size}; " \
                    f"it would be kept as {file.name}.bad-N)"
        lines.append(f"{target}\n    {state}")
    return lines
