"""Editing a UI-format workflow (what users drag into ComfyUI) in place: nodes and links added, moved and removed
with the link table, every node's inputs[].link and outputs[].links kept consistent, and free space found for new
nodes (a bucketed index of the node boxes keeps that near-linear in the node count). Plain JSON; used by the
cubiq workflow converter."""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from ..errors import CubiqMigrationError
from .node_sizes import TITLE_H

Rect = Tuple[float, float, float, float]


def xy(value: Any, default: Tuple[float, float]) -> Tuple[float, float]:
    """A position or size as the frontend stores it ([x, y] or {"0": x, "1": y}), else ``default``."""
    if isinstance(value, dict):
        value = [value.get("0"), value.get("1")]
    if isinstance(value, (list, tuple)) and len(value) >= 2 and all(isinstance(v, (int, float)) for v in value[:2]):
        return float(value[0]), float(value[1])
    return default


class UIGraph:
    """A UI-format workflow edited in place with its link table, node inputs and outputs kept consistent both ways."""

    TITLE_H, GAP = TITLE_H, 20  # LiteGraph's title bar above pos (node_sizes); the margin kept between nodes

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
        self._space: Optional[FreeSpace] = None
        self._by_node: Optional[Dict[Any, List[list]]] = None  # node id -> links at either end (links_of)

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
        self._index_link(link, node_id)

    def set_dst(self, link: list, node_id, slot: int) -> None:
        link[3], link[4] = node_id, slot
        self.nodes[node_id]["inputs"][slot]["link"] = link[0]
        self._index_link(link, node_id)

    def add_link(self, src, src_slot: int, dst, dst_slot: int, link_type: str) -> list:
        self.last_link += 1
        link = [self.last_link, src, src_slot, dst, dst_slot, link_type]
        self.wf["links"].append(link)
        self.links[link[0]] = link
        self._out_links(src, src_slot).append(link[0])
        self.set_dst(link, dst, dst_slot)
        return link

    def links_of(self, node_id) -> Tuple[List[list], List[list]]:
        """(incoming, outgoing) links of a node in link-table order, from an index built once (not a scan of the
        whole table per node, which made converting a large graph quadratic)."""
        if self._by_node is None:
            self._by_node = defaultdict(list)
            for link in self.wf["links"]:
                for end in {link[1], link[3]}:
                    self._by_node[end].append(link)
        live = [l for l in self._by_node.get(node_id, ()) if self.links.get(l[0]) is l]
        return [l for l in live if l[3] == node_id], [l for l in live if l[1] == node_id]

    def _index_link(self, link: list, node_id) -> None:
        if self._by_node is not None and not any(l is link for l in self._by_node[node_id]):
            self._by_node[node_id].append(link)

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

    def rect(self, node: Mapping) -> Rect:
        """(x, y, w, h) of a node with its title bar, as the frontend's bounding box."""
        x, y = xy(node.get("pos"), (0.0, 0.0))
        w, h = xy(node.get("size"), (200.0, 100.0))
        return x, y - self.TITLE_H, w, h + self.TITLE_H

    @property
    def space(self) -> "FreeSpace":
        """The boxes of the nodes placed so far (built on first use; keep it current with place())."""
        if self._space is None:
            self._space = FreeSpace(self.GAP)
            for n in self.wf["nodes"]:
                self._space.put(n["id"], self.rect(n))
        return self._space

    def place(self, node: dict, anchor: Tuple[float, float], directions: Sequence[int] = (-1,)) -> None:
        """Put ``node`` (its body's top-left) at the free spot nearest to ``anchor``, searching columns that step
        away from it in ``directions`` (-1 left, +1 right), and record its box."""
        space = self.space
        space.drop(node["id"])
        w, h = xy(node.get("size"), (200.0, 100.0))
        x, y = space.nearest((anchor[0], anchor[1] - self.TITLE_H), w, h + self.TITLE_H, directions)
        node["pos"] = [round(x), round(y + self.TITLE_H)]
        space.put(node["id"], self.rect(node))

    def forget(self, node_id) -> None:
        """A node that is not placed yet (a new one) or about to be placed again."""
        self.space.drop(node_id)


class FreeSpace:
    """Boxes (x, y, w, h) in square buckets of CELL px, so that finding what a box would overlap costs the same in a
    graph of ten nodes or a thousand. ``gap`` is the margin every placed box keeps from the others."""

    CELL = 512.0
    MAX_COLUMNS = 64  # columns tried on each side before giving up and going below everything

    def __init__(self, gap: float):
        self.gap = gap
        self.boxes: Dict[Any, Rect] = {}
        self.buckets: Dict[Tuple[int, int], set] = defaultdict(set)

    def _cells(self, x: float, y: float, w: float, h: float) -> Iterator[Tuple[int, int]]:
        c = self.CELL
        for i in range(math.floor(x / c), math.floor((x + w) / c) + 1):
            for j in range(math.floor(y / c), math.floor((y + h) / c) + 1):
                yield i, j

    def put(self, key, box: Rect) -> None:
        self.drop(key)
        self.boxes[key] = box
        for cell in self._cells(*box):
            self.buckets[cell].add(key)

    def drop(self, key) -> None:
        box = self.boxes.pop(key, None)
        if box is not None:
            for cell in self._cells(*box):
                self.buckets[cell].discard(key)

    def hits(self, x: float, y: float, w: float, h: float) -> List[Rect]:
        """The boxes that a box at (x, y) of w x h would overlap or come closer to than the gap."""
        g = self.gap
        keys = set()
        for cell in self._cells(x - g, y - g, w + 2 * g, h + 2 * g):
            keys |= self.buckets.get(cell, set())
        return [b for b in (self.boxes[k] for k in keys)
                if x < b[0] + b[2] + g and b[0] < x + w + g and y < b[1] + b[3] + g and b[1] < y + h + g]

    def _scan(self, x: float, y0: float, w: float, h: float, down: bool, reach: float) -> Optional[float]:
        """The first free y from ``y0`` going down (or up) in column ``x``, jumping past each obstacle."""
        y = y0
        while abs(y - y0) <= reach:
            blocking = self.hits(x, y, w, h)
            if not blocking:
                return y
            y = (max(b[1] + b[3] for b in blocking) + self.gap if down else
                 min(b[1] for b in blocking) - h - self.gap)
        return None

    def nearest(self, at: Tuple[float, float], w: float, h: float, directions: Sequence[int]) -> Tuple[float, float]:
        """The free top-left corner nearest to ``at`` for a w x h box: columns half a box wide apart, stepping
        away in ``directions``, each scanned up and down; further columns only while they could still be nearer."""
        ax, ay = at
        best, best_cost = None, math.inf
        step = max(w / 2, self.gap)
        for k in range(self.MAX_COLUMNS):
            if k * step >= best_cost:
                break
            for d in (directions if k else directions[:1]):
                x = ax + d * k * step
                reach = math.sqrt(max(best_cost ** 2 - (k * step) ** 2, 0.0)) if best else math.inf
                for down in (True, False):
                    y = self._scan(x, ay, w, h, down, reach)
                    if y is not None and math.hypot(x - ax, y - ay) < best_cost:
                        best, best_cost = (x, y), math.hypot(x - ax, y - ay)
                        reach = abs(y - ay)
        if best is None:  # crowded all around: below everything
            best = (ax, max((b[1] + b[3] for b in self.boxes.values()), default=ay) + self.gap)
        return best
