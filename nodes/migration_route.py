"""POST /instantid_precision/migrate: the frontend's "Convert to InstantID" offer (web/migrate_cubiq.js) runs the
one converter (instantid_core.workflow_formats.cubiq_workflows) with the node definitions of the ComfyUI it runs in.

Body: a UI-format workflow, or {"workflow": <workflow>}. Answer: {"workflow", "notes", "report", "converted",
"added_node_ids"}; a workflow the converter cannot read gets 400 and {"error": <what is wrong and the fix>}, one
beyond its bounds (MAX_BODY_BYTES, or the converter's node/link/depth bounds) 413. Parsing and conversion run in a
worker thread, never in aiohttp's event loop (a large workflow must not stall the server), and the answer is
always valid JSON (no NaN). The request passes the pack's own checks first (nodes/route_guard.py): ComfyUI's
page's origin, application/json, MAX_BODY_BYTES, MAX_BODY_DEPTH (checked on the bytes, before parsing).
Registered on import when a ComfyUI server is running; without one (the command line, in-process tests) nothing
happens, and nothing heavy is imported either way."""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict

from ..instantid_core.errors import WorkflowTooLargeError
from ..instantid_core.workflow_formats.cubiq_workflows import (SET_MASK, CubiqMigrationError, migrate_workflow,
                                              migration_report_text)
from ..instantid_core.workflow_formats.widget_specs import node_definition
from .node_base import ID_PREFIX
from .route_guard import (Refused, check_json_type, check_origin, parse_json, read_body,
                          refusal_response)
from .server_routes import add_route

ROUTE = "/instantid_precision/migrate"
MAX_BODY_BYTES = 32 * 2**20  # the largest shared workflows are a few MB
MAX_BODY_DEPTH = 200         # a workflow nests ~10 levels; the converter bounds what is inside widgets itself
log = logging.getLogger(__name__)


def live_definitions() -> dict:
    """The converter's node definitions as /object_info gives them: this pack's nodes and the core
    ConditioningSetMask it adds for masked prompts (the only node types it creates)."""
    import nodes as comfy_nodes

    return {name: node_definition(cls) for name, cls in comfy_nodes.NODE_CLASS_MAPPINGS.items()
            if name.startswith(ID_PREFIX) or name == SET_MASK}


def migrate_payload(body) -> dict:
    """The route's answer for a request body; raises CubiqMigrationError for a body it cannot convert."""
    workflow = body.get("workflow") if isinstance(body, dict) and "nodes" not in body else body
    if not isinstance(workflow, dict) or not isinstance(workflow.get("nodes"), list):
        raise CubiqMigrationError("the request holds no UI-format workflow (a JSON object with a 'nodes' list); "
                                  "post the workflow itself, or {\"workflow\": <workflow>}")
    result = migrate_workflow(workflow, live_definitions())
    return {"workflow": result.workflow, "notes": [asdict(n) for n in result.notes],
            "report": migration_report_text(result), "converted": result.converted,
            "added_node_ids": result.added_node_ids}


async def migrate(request):
    from aiohttp import web

    try:
        check_origin(request, changes_state=False)  # converts, changes nothing: scripts on other machines may use it
        check_json_type(request)
        raw = await read_body(request, MAX_BODY_BYTES)
    except Refused as exc:
        if exc.status == 413:
            exc = Refused(413, f"the workflow is larger than {MAX_BODY_BYTES >> 20} MB; no ComfyUI workflow is, "
                               f"so this is not one")
        return refusal_response(exc)
    status, answer = await asyncio.to_thread(answer_for, raw)
    return web.Response(text=answer, status=status, content_type="application/json")


def answer_for(raw: bytes):
    """(HTTP status, JSON text) for a request body: runs in a worker thread."""
    try:
        try:
            body = parse_json(raw, MAX_BODY_DEPTH)
        except Refused as exc:
            if exc.status == 413:
                raise WorkflowTooLargeError("the request body is nested too deeply to be a workflow")
            return 400, json.dumps({"error": f"{exc}; post the workflow JSON"})
        return 200, json.dumps(migrate_payload(body), allow_nan=False)
    except WorkflowTooLargeError as exc:
        return 413, json.dumps({"error": str(exc)})
    except CubiqMigrationError as exc:
        return 400, json.dumps({"error": str(exc)})
    except Exception as exc:  # a converter bug: say so in the UI and keep the traceback in ComfyUI's console
        log.exception("[InstantID] converting a cubiq workflow failed")
        return 500, json.dumps({"error": f"the conversion failed ({type(exc).__name__}); the workflow is "
                                         "unchanged. ComfyUI's console has the details"})


def register_route() -> bool:
    """Add the route to ComfyUI's server when one exists; True if it is (now) registered."""
    return add_route("POST", ROUTE, migrate)


register_route()
