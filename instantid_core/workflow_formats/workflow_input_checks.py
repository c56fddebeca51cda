"""What the cubiq converter accepts, checked before it reads anything: size and nesting bounds, node and link
entries of the shape it reads, and numbers JSON cannot carry. Bad input becomes one CubiqMigrationError sentence
(WorkflowTooLargeError when a bound is exceeded) instead of a traceback deep inside the conversion.

Python's json module accepts NaN and Infinity, which are not JSON: a cubiq widget holding one (or a string where
a number belongs) gets cubiq's default and a note; any other non-finite number becomes null with a note, so the
answer is always valid JSON."""
from __future__ import annotations

import math
from typing import Any, Callable, List, Mapping, Tuple

from ..errors import CubiqMigrationError, WorkflowTooLargeError

MAX_DEPTH = 64          # real workflows nest about 10 deep (subgraph definitions included)
MAX_NODES = 10_000      # per graph level; the largest shared workflows hold a few hundred
MAX_LINKS = 50_000
Say = Callable[[str, str, Any, Any], None]  # (level, message, node_id, node_type)


def check_workflow_input(workflow: Mapping) -> None:
    """Raise CubiqMigrationError naming the first entry the converter could not read."""
    _check_depth(workflow)
    nodes, links = workflow.get("nodes"), workflow.get("links", [])
    if not isinstance(nodes, list) or not isinstance(links, list):
        raise CubiqMigrationError("not a ComfyUI UI-format workflow: 'nodes' and 'links' must be lists "
                                  "(API-format prompts cannot be migrated; load the workflow file instead)")
    if len(nodes) > MAX_NODES or len(links) > MAX_LINKS:
        raise WorkflowTooLargeError(f"the workflow has {len(nodes)} nodes and {len(links)} links; at most "
                                    f"{MAX_NODES} nodes and {MAX_LINKS} links are converted")
    seen = set()
    for i, node in enumerate(nodes):
        where = f"nodes[{i}]"
        if not isinstance(node, dict):
            raise CubiqMigrationError(f"{where} is a {type(node).__name__}, not a node object; the file is damaged")
        node_id = node.get("id")
        if isinstance(node_id, bool) or not isinstance(node_id, (int, str)):
            raise CubiqMigrationError(f"{where} has no usable 'id' (found {node_id!r}); the file is damaged")
        if node_id in seen:
            raise CubiqMigrationError(f"two nodes have the id {node_id!r}; the file is damaged")
        seen.add(node_id)
        if not isinstance(node.get("type", ""), str):
            raise CubiqMigrationError(f"node {node_id!r}: 'type' is not a string; the file is damaged")
        for key in ("inputs", "outputs"):
            entries = node.get(key)
            if entries is not None and not (isinstance(entries, list) and all(isinstance(e, dict) for e in entries)):
                raise CubiqMigrationError(f"node {node_id!r}: '{key}' is not a list of objects; the file is damaged")
        if not isinstance(node.get("widgets_values", []), (list, dict, type(None))):
            raise CubiqMigrationError(f"node {node_id!r}: 'widgets_values' is neither a list nor an object")
    for i, link in enumerate(links):
        if isinstance(link, list) and len(link) >= 6 and all(_is_int(v) for v in link[:5]):
            continue
        if isinstance(link, dict):
            continue  # the newer object schema: the converter names the fix itself
        raise CubiqMigrationError(f"links[{i}] is not [id, from node, from slot, to node, to slot, type] "
                                  f"(found {str(link)[:80]}); the file is damaged")


def clean_numbers(workflow: dict, cubiq_widgets: Mapping[str, Tuple[Tuple[str, Any], ...]], say: Say) -> None:
    """In place (on the converter's own copy): cubiq widgets that must be numbers and are not finite numbers get
    cubiq's default; every other NaN/Infinity becomes None. Each change is reported through ``say``."""
    for node in workflow.get("nodes") or []:
        layout = cubiq_widgets.get(node.get("type"))
        values = node.get("widgets_values")
        if layout is None or values is None:
            continue
        for i, (name, default) in enumerate(layout):
            key = name if isinstance(values, dict) else i
            if not isinstance(default, (int, float)) or (isinstance(values, list) and i >= len(values)) \
                    or (isinstance(values, dict) and name not in values):
                continue
            value = values[key]
            if not _finite_number(value):
                values[key] = default
                say("warning", f"{name} {_shown(value)} is not a finite number; cubiq's default {default} is used "
                               f"instead: set it again", node.get("id"), node.get("type"))
    for path, container, key in list(_non_finite(workflow)):
        value, container[key] = container[key], None
        node = workflow["nodes"][path[1]] if len(path) > 1 and path[0] == "nodes" else {}
        say("warning", f"{'/'.join(str(p) for p in path)} held {value} (NaN and Infinity are not JSON); it is now "
                       f"null: set it again", node.get("id"), node.get("type"))


def _check_depth(value: Any) -> None:
    stack: List[Tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise WorkflowTooLargeError(f"the workflow is nested more than {MAX_DEPTH} levels deep; no ComfyUI "
                                        f"workflow is, so the file is damaged or not a workflow")
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def _non_finite(root: Any):
    """(path, container, key) of every float that is NaN or infinite, walked without recursion."""
    stack: List[Tuple[Any, tuple]] = [(root, ())]
    while stack:
        item, path = stack.pop()
        pairs = item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else ()
        for key, child in pairs:
            if isinstance(child, float) and not math.isfinite(child):
                yield path + (key,), item, key
            elif isinstance(child, (dict, list)):
                stack.append((child, path + (key,)))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
