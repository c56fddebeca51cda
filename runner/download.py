"""The ``download`` command's side of the downloader (``instantid_core.files.downloader``, shared with the
server route the UI uses): ComfyUI's configured folders, read in a booted ComfyUI."""
from __future__ import annotations

from typing import Dict, List
from pathlib import Path

from instantid_core.files.downloader import (DOWNLOADED, FAILED, FROM_CACHE, SKIPPED, DownloadError,  # noqa: F401
                                             DownloadReport, all_folders, download, first_folders,
                                             folders_from_models_dir)


def folders_from_folder_paths() -> Dict[str, Path]:
    import folder_paths  # ComfyUI's; the caller has booted ComfyUI (and this pack registered its folders)
    return first_folders(folder_paths.get_folder_paths, folder_paths.models_dir)


def search_folders_from_folder_paths() -> Dict[str, List[Path]]:
    import folder_paths
    return all_folders(folder_paths.get_folder_paths)
