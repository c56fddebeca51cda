"""Save a person's identity (face embeddings + keypoints, never the photos) and load it without face analysis.
The file-format module is imported on first use, not when ComfyUI imports the pack (start-up stays fast)."""
from __future__ import annotations

import os

import folder_paths

from ..instantid_core.compute.identity import COMBINE_MODES
from ..instantid_core.errors import IdentityFileError
from .folders import IDENTITIES, identities_save_folder
from .node_base import InstantIDNode
from .values import FACES, FacesResult

IF_EXISTS = ("new numbered name", "overwrite")


class InstantIDSaveIdentity(InstantIDNode):
    NODE_ID = "SaveIdentity"
    DISPLAY_NAME = "InstantID Save Identity"
    DESCRIPTION = ("Saves a person's identity — the face embeddings and keypoints of every photo, the combine mode "
                   "and the photos' sha256 (never the photos) — to models/instantid_identities/<name>.safetensors, "
                   "for 'InstantID Load Identity'.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "faces": (FACES, {"tooltip": "From 'InstantID Face Detect': the person's photos (all of them are "
                      "saved)."}),
            "name": ("STRING", {"default": "person", "tooltip": "File name (letters, digits, '_', '-'); the "
                     "file goes to models/instantid_identities/."}),
            "combine": (list(COMBINE_MODES), {"default": "average", "tooltip":
                        "The Image Projection combine mode to remember with this identity (shown when it is "
                        "loaded; the Image Projection's own setting is what is used)."}),
            "if_exists": (list(IF_EXISTS), {"default": IF_EXISTS[0], "tooltip":
                          "A file of that name exists: write <name>_0001 (then _0002, …), or replace it."}),
        }}

    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("report",)
    OUTPUT_TOOLTIPS = ("Where the identity was written and what it holds.",)
    FUNCTION = "save"
    OUTPUT_NODE = True

    def save(self, faces: FacesResult, name, combine, if_exists):
        from ..instantid_core.files.identity_file import load_identity, save_identity
        path = save_identity(identities_save_folder(), name, faces.images, combine, faces.photo_sha256,
                             overwrite=if_exists == "overwrite")
        saved = load_identity(path)  # read back: the report shows exactly what the loader will see
        text = f"saved {path}\n" + saved.summary()
        return {"ui": {"instantid_identity_info": [text]}, "result": (text,)}


class InstantIDLoadIdentity(InstantIDNode):
    NODE_ID = "LoadIdentity"
    DISPLAY_NAME = "InstantID Load Identity"
    DESCRIPTION = ("Loads a saved identity from models/instantid_identities as faces: wire it where Face Detect's "
                   "faces go (Image Projection, Face Keypoints, Identity Score). No face analysis runs, and the "
                   "projection is bit-identical to one made from the photos.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"identity_file": (folder_paths.get_filename_list(IDENTITIES), {
            "tooltip": "A file written by 'InstantID Save Identity' in ComfyUI/models/instantid_identities "
                       "(or an extra_model_paths.yaml 'instantid_identities' folder). Press 'Refresh' after "
                       "adding files."})}}

    RETURN_TYPES = (FACES, "STRING")
    RETURN_NAMES = ("faces", "report")
    OUTPUT_TOOLTIPS = ("The saved faces (embeddings and keypoints of every photo), as Face Detect gives them.",
                       "The file's header: name, created, photo count, embedding model, format version.")
    FUNCTION = "load"

    @classmethod
    def IS_CHANGED(cls, identity_file):
        """A file saved again under the same name is read again (ComfyUI would otherwise keep the cached one)."""
        path = folder_paths.get_full_path(IDENTITIES, identity_file)
        try:
            stat = os.stat(path) if path else None
        except OSError:
            stat = None
        return f"{stat.st_mtime_ns}:{stat.st_size}" if stat else ""

    def load(self, identity_file):
        path = folder_paths.get_full_path(IDENTITIES, identity_file)
        if path is None:
            raise IdentityFileError(f"'{identity_file}' is not in any instantid_identities folder "
                                    f"({folder_paths.get_folder_paths(IDENTITIES)}); save it with 'InstantID Save "
                                    "Identity' or put the file there and press 'Refresh'")
        from ..instantid_core.files.identity_file import load_identity
        saved = load_identity(path)
        faces = FacesResult(list(saved.images), saved.photo_sha256, (saved.name, saved.combine))
        text = saved.summary()
        return {"ui": {"instantid_identity_info": [text]}, "result": (faces, text)}
