"""What every node of the pack shares: its id, display name and description stated once, and the one place
where the core's typed errors become the node's own message."""
from __future__ import annotations

import functools
from typing import Dict

from ..instantid_core.errors import InstantIDError

ID_PREFIX = "InstantIDPrecision_"  # no other pack uses it: ComfyUI keeps whichever pack registers an id last


class NodeInputError(ValueError):
    """Shown to the user by ComfyUI: names the node and, when one fixes it, the input to change."""

    def __init__(self, node: str, input_name, problem: str):
        where = f"check the '{input_name}' input — " if input_name else ""
        super().__init__(f"{node}: {where}{problem}")
        self.input_name = input_name


class InstantIDNode:
    """Base of every node class. Subclasses set NODE_ID (without the prefix), DISPLAY_NAME, DESCRIPTION,
    and the classic INPUT_TYPES / RETURN_TYPES / FUNCTION. ERROR_INPUTS renames an input a core error names to
    the input this node actually has (the all-in-one node has 'image' where the separate nodes have 'faces')."""

    NODE_ID: str = ""
    DISPLAY_NAME: str = ""
    DESCRIPTION: str = ""
    CATEGORY = "InstantID"
    ERROR_INPUTS: Dict[str, str] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.NODE_ID and not cls.NODE_ID.startswith(ID_PREFIX):
            cls.NODE_ID = ID_PREFIX + cls.NODE_ID
        function = getattr(cls, "FUNCTION", None)
        method = cls.__dict__.get(function) if function else None
        if method is not None and not getattr(method, "_translates_errors", False):
            setattr(cls, function, _translating(cls, method))


def _translating(cls, method):
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except InstantIDError as exc:
            name = cls.ERROR_INPUTS.get(exc.input_name, exc.input_name)
            raise NodeInputError(cls.DISPLAY_NAME, name, str(exc)) from exc

    run._translates_errors = True
    return run
