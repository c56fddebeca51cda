"""Editing a UI-format workflow (what users drag into ComfyUI) in place: nodes and links added, moved and removed
with the link table, every node's inputs[].link and outputs[].links kept consistent, and free space found for new
nodes. Plain JSON; used by the cubiq workflow converter."""
from __future__ import annotations

import math
from typing import Any, List, Mapping, Optional, Tuple

from ..errors import CubiqMigrationError


def xy(value: Any, default: Tuple[float, float]) -> Tuple[float, float]:
    """A position or size as the frontend stores it ([x, y] or {"0": x, "1": y}), else ``default``."""
    if isinstance(value, dict):
        value = [value.get("0"), value.get("1")]
    if isinstance(value, (list, tuple)) and len(value) >= 2 and all(isinstance(v, (int, float)) for v in value[:2]):
        return float(value[0]), float(value[1])
    return default


class UIGraph:
    """A UI-format workflow edited in place with its link table, node inputs and outputs kept consistent both ways."""

    TITLE_H, GAP, STEP = 30, 20, 20

    def __init__(self, workflow: dict):
        self.wf = workflow
        if not isinstance(workflow.get("nodes"), list) or not isinstance(workflow.get("links", []), list):
            raise CubiqMigrationError("not a ComfyUI UI-format workflow: 'nodes' and 'links' must be lists "
                                      "(API-format prompts cannot be migrated; load the workflow file instead)")
        workflow.setdefault("links", [])
        if any(isinstance(l, dict) for l in workflow["links"]):
            raise CubiqMigrationError("this workflow stores links as objects (newer frontend schema); open it in "
                                      "ComfyUI and export it with 'Export' (not 'Export (API)') to migrate it")
        if any(not isinstance(l, list) or len(l) < 6 for l in workflow["links"]):
            raise CubiqMigrationError("the workflow's 'links' table has entries that are not "
                                      "[id, from node, from slot, to node, to slot, type]; the file is damaged")
        self.nodes = {n["id"]: n for n in workflow["nodes"]}
        self.links = {l[0]: l for l in workflow["links"]}
        ints = [i for i in list(self.nodes) if isinstance(i, int)]
        self.last_node = max([workflow.get("last_node_id") or 0] + ints)
        self.last_link = max([workflow.get("last_link_id") or 0] + [i for i in self.links if isinstance(i, int)])

    def new_node_id(self) -> int:
        self.last_node += 1
        return self.last_node

    def _out_links(self, node_id, slot) -> Optional[list]:
        node = self.nodes.get(node_id)
        outs = (node or {}).get("outputs") or []
        if not 0 <= slot < len(outs):
            return None
        if outs[slot].get("links") is None:
            outs[slot]["links"] = []
        return outs[slot]["links"]

    def set_src(self, link: list, node_id, slot: int) -> None:
        old = self._out_links(link[1], link[2])
        if old is not None and link[0] in old:
            old.remove(link[0])
        link[1], link[2] = node_id, slot
        self._out_links(node_id, slot).append(link[0])

    def set_dst(self, link: list, node_id, slot: int) -> None:
        link[3], link[4] = node_id, slot
        self.nodes[node_id]["inputs"][slot]["link"] = link[0]

    def add_link(self, src, src_slot: int, dst, dst_slot: int, link_type: str) -> list:
        self.last_link += 1
        link = [self.last_link, src, src_slot, dst, dst_slot, link_type]
        self.wf["links"].append(link)
        self.links[link[0]] = link
        self._out_links(src, src_slot).append(link[0])
        self.set_dst(link, dst, dst_slot)
        return link

    def remove_link(self, link: list) -> None:
        outs = self._out_links(link[1], link[2])
        if outs is not None and link[0] in outs:
            outs.remove(link[0])
        for inp in (self.nodes.get(link[3]) or {}).get("inputs") or []:
            if inp.get("link") == link[0]:
                inp["link"] = None
        self.wf["links"].remove(link)
        del self.links[link[0]]

    def source_type(self, link: list) -> Optional[str]:
        """Type of the node a link comes from, looking through Reroutes."""
        seen = set()
        while link is not None and link[0] not in seen:
            seen.add(link[0])
            node = self.nodes.get(link[1])
            if node is None or node.get("type") != "Reroute":
                return None if node is None else node.get("type")
            link = self.links.get(((node.get("inputs") or [{}])[0]).get("link"))
        return None

    def rect(self, node: Mapping) -> Tuple[float, float, float, float]:
        x, y = xy(node.get("pos"), (0.0, 0.0))
        w, h = xy(node.get("size"), (200.0, 100.0))
        return x, y - self.TITLE_H, w, h + self.TITLE_H

    def free_spot(self, node: dict, anchor: Tuple[float, float]) -> List[float]:
        """The grid point nearest to ``anchor`` where the node overlaps no other node."""
        others = [self.rect(n) for n in self.wf["nodes"] if n is not node and n.get("_placed", True)]
        w, h = xy(node["size"], (200.0, 100.0))
        h += self.TITLE_H
        g = self.GAP

        def free(x, y):
            return all(x + w + g <= ox or ox + ow + g <= x or y + h + g <= oy or oy + oh + g <= y
                       for ox, oy, ow, oh in others)

        for ring in range(0, 400):
            cells = [(dx, dy) for dx in range(-ring, ring + 1) for dy in range(-ring, ring + 1)
                     if max(abs(dx), abs(dy)) == ring]
            for dx, dy in sorted(cells, key=lambda c: (math.hypot(*c), c[1], c[0])):
                x, y = anchor[0] + dx * self.STEP, anchor[1] - self.TITLE_H + dy * self.STEP
                if free(x, y):
                    return [round(x), round(y + self.TITLE_H)]
        bottom = max((oy + oh for _, oy, _, oh in others), default=0.0)
        return [round(anchor[0]), round(bottom + g + self.TITLE_H)]
