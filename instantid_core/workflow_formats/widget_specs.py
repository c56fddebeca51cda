"""How ComfyUI's frontend lays out a node's widgets, read from the node's input spec (INPUT_TYPES / /object_info):
which inputs are widgets, and which frontend-only values follow a widget's own in ``widgets_values``. Shared by the
workflow converter here and the runner's UI -> API conversion; plain data, no ComfyUI."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
SEED_NAMES = {"seed", "noise_seed"}
UPLOADS = ("image_upload", "video_upload", "audio_upload")


def spec_parts(spec: Any) -> Tuple[Any, dict]:
    """(kind, options) of an input spec such as ("INT", {...}), (["a", "b"],) or "MODEL"."""
    spec = spec if isinstance(spec, (list, tuple)) else (spec,)
    kind = spec[0] if spec else None
    opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
    return kind, opts


def is_widget(spec: Any) -> bool:
    kind, opts = spec_parts(spec)
    return not opts.get("forceInput") and (isinstance(kind, (list, tuple)) or kind in WIDGET_TYPES)


def combo_options(spec: Any) -> Optional[List[Any]]:
    """The choices of a combo input (old form ``(["a", "b"], {...})`` or V3 ``("COMBO", {"options": [...]})``)."""
    kind, opts = spec_parts(spec)
    if isinstance(kind, (list, tuple)):
        return list(kind)
    return list(opts.get("options", [])) if kind == "COMBO" else None


def frontend_extras(name: str, spec: Any) -> List[Any]:
    """The values the frontend stores right after this widget's own: a seed's 'control after generate' mode, an
    upload button's placeholder."""
    kind, opts = spec_parts(spec)
    extras = []
    if kind == "INT" and (name in SEED_NAMES or opts.get("control_after_generate")):
        extras.append("fixed")
    if any(opts.get(u) for u in UPLOADS):
        extras.append("image")
    return extras


def node_definition(node_class) -> Dict[str, Any]:
    """A node class described the way ComfyUI's /object_info does (inputs with their order, outputs and their
    names), from the class alone: INPUT_TYPES / RETURN_TYPES (which ComfyUI's V3 classes offer too), else a V3
    class's own GET_NODE_INFO_V1."""
    if not hasattr(node_class, "INPUT_TYPES") and hasattr(node_class, "GET_NODE_INFO_V1"):
        return node_class.GET_NODE_INFO_V1()
    inputs = node_class.INPUT_TYPES()
    outputs = list(node_class.RETURN_TYPES)
    return {"input": inputs, "input_order": {section: list(specs) for section, specs in inputs.items()},
            "output": outputs, "output_name": list(getattr(node_class, "RETURN_NAMES", None) or outputs)}
