"""cubiq's ComfyUI_InstantID nodes that one node of this pack replaces exactly, told to ComfyUI's Node Replacement.

Newer ComfyUI cores (0.33.0 here; not 0.3.64) keep a list of "old node -> new node" replacements (GET
/node_replacements); when a workflow names a node nobody provides, the frontend's missing-nodes list offers
"Replace Node" for those on the list, maps the widgets and links as registered, and the server applies the same
mapping to an API prompt that still names the old node. Only cubiq's two loaders map one to one (same widget, same
single output); its FaceKeypointsPreprocessor and Apply nodes become several nodes of this pack, so they keep the
pack's own conversion panel (web/migrate_cubiq.js, instantid_core/workflow_formats/cubiq_workflows.py), which the
panel offers only for the nodes that are not on this list.

ComfyUI calls a pack's comfy_entrypoint (where its own replacements are registered) only for V3 packs; this pack
is a classic one, so the list is registered when the pack is imported, through the public API (comfy_api's
ComfyAPISync), checked by feature: a core without it, or an import with no server (the command-line runner), just
registers nothing."""
from __future__ import annotations

import logging

from .face_nodes import DET_SIZE_CHOICES

log = logging.getLogger(__name__)
PREFIX = "InstantIDPrecision_"

# (cubiq's node, ours, cubiq's widgets in widgets_values order, input mapping, output mapping)
EXACT = (
    ("InstantIDModelLoader", PREFIX + "ModelLoader", ["instantid_file"],
     [{"new_id": "instantid_file", "old_id": "instantid_file"}], [{"new_idx": 0, "old_idx": 0}]),
    # cubiq's providers (CPU, CUDA, ROCM, CoreML) are all among ours; cubiq had no detection size
    ("InstantIDFaceAnalysis", PREFIX + "FaceAnalysisLoader", ["provider"],
     [{"new_id": "provider", "old_id": "provider"}, {"new_id": "det_size", "set_value": DET_SIZE_CHOICES[0]}],
     [{"new_idx": 0, "old_idx": 0}]),
)


def register_replacements() -> int:
    """Register EXACT with ComfyUI where it has Node Replacement; the number registered (0 where it has not)."""
    try:
        from comfy_api.latest import ComfyAPISync, io
    except ImportError:  # cores before the versioned comfy_api
        return 0
    if not hasattr(io, "NodeReplace"):
        return 0
    api = ComfyAPISync()
    if not hasattr(api, "node_replacement"):
        return 0
    done = 0
    for old, new, widgets, inputs, outputs in EXACT:
        try:
            api.node_replacement.register(io.NodeReplace(new_node_id=new, old_node_id=old, old_widget_ids=widgets,
                                                         input_mapping=inputs, output_mapping=outputs))
        except Exception as exc:  # noqa: BLE001  no server in this process (the runner): nothing to tell
            log.debug("[InstantID] node replacement %s -> %s not registered: %s", old, new, exc)
            return done
        done += 1
    return done
