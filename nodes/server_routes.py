"""Adding the pack's HTTP routes to ComfyUI's server, when one runs (the command line and in-process tests have
none: then nothing is registered and nothing is imported). Every route the pack asks for is listed in
``REQUESTED``, registered or not, so a test can walk all of them without a list of its own."""
from __future__ import annotations

import sys
from typing import Callable, Dict, Tuple

REQUESTED: Dict[Tuple[str, str], Callable] = {}  # (method, path) -> handler


def add_route(method: str, path: str, handler) -> bool:
    """Register ``handler`` for ``method path`` on ComfyUI's PromptServer; True if it is (now) registered."""
    REQUESTED[(method, path)] = handler
    server = sys.modules.get("server")  # imported by ComfyUI's main.py before custom nodes load; never here
    instance = getattr(getattr(server, "PromptServer", None), "instance", None)
    routes = getattr(instance, "routes", None)
    if routes is None:
        return False
    if any(getattr(r, "path", None) == path and getattr(r, "method", None) == method for r in routes):
        return True  # the pack imported twice in one process: aiohttp refuses a second handler
    getattr(routes, method.lower())(path)(handler)
    return True
