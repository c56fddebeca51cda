"""A row as an API prompt: the workflow converted once (workflow_prompt.workflow_to_api, cubiq's migrated), then the
row's values set the way `run` sets its options (workflow_prompt.apply_overrides). Every executor builds its prompts
here, so a row gives the same prompt (and the same PNG, metadata included) locally, on a server, on Ray."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Callable, List, Optional

from .manifest import Job
from ..workflow_format import VIRTUAL
from ..workflow_prompt import apply_overrides, is_api_prompt

OPTION_KEYS = ("checkpoint", "controlnet", "adapter", "steps", "width", "height", "sets")


class Stager:
    """What apply_overrides calls ``add(path)`` on for each photo and ``add_identity(path)`` on for each saved
    identity (as workflow_prompt.Staging): answers the name the row's file has in ComfyUI (a photo's in its input
    folder, an identity's in models/instantid_identities), after ``put(name, path)`` has made sure the file is
    there (copied, uploaded…). Both names were fixed, and identities checked, by inputs.with_inputs."""

    def __init__(self, job: Job, put: Callable[[str, str], None]):
        self.names = dict(job.staged)
        self.put = put

    def add(self, path: str) -> str:
        name = self.names[path]
        self.put(name, path)
        return name

    add_identity = add  # the name (instantid_<hash>.safetensors) tells put where it goes


def build_prompt(base_api: dict, job: Job, options: dict, stager: Stager) -> dict:
    """A copy of ``base_api`` with the row's values (a row's own width/height/steps win over the batch's)."""
    api = copy.deepcopy(base_api)
    values = job.overrides()
    for key in ("width", "height", "steps"):
        if values[key] is None:
            values[key] = options.get(key)
    values["sets"] = list(options.get("sets") or []) + values["sets"]
    apply_overrides(api, stager, checkpoint=options.get("checkpoint"), controlnet=options.get("controlnet"),
                    adapter=options.get("adapter"), **values)
    return api


@dataclass
class Outcome:
    """What an executor hands back for one row."""
    images: List[bytes] = field(default_factory=list)
    error: Optional[str] = None
    seconds: float = 0.0
    score: Optional[float] = None
    worker: str = ""


def score_from_outputs(outputs: dict) -> Optional[float]:
    """The identity score, where the workflow has a node that reports one in its UI output ('identity_score'
    or 'score', a number or a list starting with one); None otherwise."""
    for ui in (outputs or {}).values():
        for key in ("identity_score", "score"):
            value = ui.get(key) if isinstance(ui, dict) else None
            if isinstance(value, list) and value:
                value = value[0]
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                return float(value)
    return None


def required_node_types(workflow: dict) -> List[str]:
    """The node classes a workflow (UI or API format) needs from the server."""
    if is_api_prompt(workflow):
        return sorted({n["class_type"] for n in workflow.values()})
    return sorted({n.get("type") for n in workflow.get("nodes", []) if n.get("type") not in VIRTUAL
                   and n.get("mode") not in (2, 4)})
