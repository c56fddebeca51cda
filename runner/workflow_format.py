"""UI-format workflow JSON (what users drag into ComfyUI) -> API-format prompt (what the executor runs).

ComfyUI does this conversion in its frontend only, so a headless runner must do it itself. The node
definitions (each class's INPUT_TYPES()) are passed in, which keeps this module free of ComfyUI.
Handled: links, widget values in declaration order (with the frontend's extra 'control_after_generate'
and 'upload' values), widgets converted to inputs, Reroute and Primitive nodes, Notes, muted and
bypassed nodes.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..instantid_core.workflow_formats.widget_specs import frontend_extras, is_widget  # noqa: F401 (is_widget re-exported)

VIRTUAL = {"Note", "MarkdownNote", "Reroute", "PrimitiveNode"}
MUTED, BYPASSED = 2, 4


class WorkflowFormatError(ValueError):
    pass


def widget_inputs(input_types: Mapping) -> List[Tuple[str, Any]]:
    """(name, spec) of every widget input, in the order the frontend lays out widgets_values."""
    out = []
    for section in ("required", "optional"):
        for name, spec in (input_types.get(section) or {}).items():
            if is_widget(spec):
                out.append((name, spec))
    return out


def extra_widget_values(name: str, spec: Any) -> int:
    """How many frontend-only values follow this widget's value in widgets_values."""
    return len(frontend_extras(name, spec))


def widget_value_map(input_types: Mapping, values: Any) -> Dict[str, Any]:
    """Map a node's widgets_values (a list, or a dict in newer frontends) onto input names."""
    if isinstance(values, dict):
        return dict(values)
    values = list(values or [])
    result, i = {}, 0
    for name, spec in widget_inputs(input_types):
        if i >= len(values):
            break
        result[name] = values[i]
        i += 1 + extra_widget_values(name, spec)
    return result


def ui_to_api(workflow: Mapping, definitions: Mapping[str, Mapping]) -> Dict[str, dict]:
    """Convert a UI-format workflow; ``definitions`` maps class_type -> INPUT_TYPES() result."""
    nodes = {n["id"]: n for n in workflow.get("nodes", [])}
    links = {l[0]: l for l in workflow.get("links", [])}
    missing = sorted({n["type"] for n in nodes.values() if n["type"] not in VIRTUAL and n["type"] not in definitions})
    if missing:
        raise WorkflowFormatError(f"unknown node types {missing}: install the custom nodes that provide them")

    def source(link_id: Optional[int], seen=()) -> Optional[Tuple[Any, int]]:
        """Follow a link back through reroutes and bypassed nodes to a real output (node, slot)."""
        if link_id is None or link_id not in links:
            return None
        _, src_id, src_slot, _, _, link_type = links[link_id][:6]
        src = nodes.get(src_id)
        if src is None or src_id in seen:
            return None
        if src["type"] == "Reroute":
            return source((src.get("inputs") or [{}])[0].get("link"), seen + (src_id,))
        if src.get("mode") == BYPASSED:
            for inp in src.get("inputs") or []:
                if inp.get("type") == link_type and inp.get("link") is not None:
                    return source(inp["link"], seen + (src_id,))
            return None
        if src.get("mode") == MUTED or src["type"] == "PrimitiveNode":
            return None
        return (str(src_id), src_slot)

    def primitive_value(link_id: Optional[int]) -> Any:
        if link_id is None or link_id not in links:
            return None
        src = nodes.get(links[link_id][1])
        if src is not None and src["type"] == "PrimitiveNode":
            return (src.get("widgets_values") or [None])[0]
        return None

    prompt: Dict[str, dict] = {}
    for node_id, node in sorted(nodes.items()):
        if node["type"] in VIRTUAL or node.get("mode") in (MUTED, BYPASSED):
            continue
        input_types = definitions[node["type"]]
        inputs: Dict[str, Any] = widget_value_map(input_types, node.get("widgets_values"))
        for inp in node.get("inputs") or []:
            link = inp.get("link")
            value = primitive_value(link)
            if value is not None:
                inputs[inp["name"]] = value
                continue
            src = source(link)
            if src is not None:
                inputs[inp["name"]] = [src[0], src[1]]
            elif inp.get("widget") is None:
                inputs.pop(inp["name"], None)
        prompt[str(node_id)] = {"class_type": node["type"], "inputs": inputs,
                                "_meta": {"title": node.get("title") or node["type"]}}
    return prompt
