"""GET /instantid_precision/keypoint_presets: the preset head poses for the keypoint editor
(web/keypoint_editor.js), so the browser draws exactly the shapes the node draws, from one definition.

Answer: {"centre": [cx, cy], "shapes": {name: [[dx, dy] × 5]}}; a preset's point on a width × height canvas is
(cx·width + dx·min(width, height), cy·height + dy·min(width, height)) pixels. Registered on import when a ComfyUI
server is running; without one nothing happens."""
from __future__ import annotations


from ..instantid_core.faces.manual_keypoints import PRESET_CENTRE, PRESET_POSES, preset_shape
from .route_guard import Refused, check_origin, refusal_response
from .server_routes import add_route

ROUTE = "/instantid_precision/keypoint_presets"


def presets_payload() -> dict:
    return {"centre": list(PRESET_CENTRE),
            "shapes": {name: preset_shape(name).round(6).tolist() for name in PRESET_POSES}}


async def keypoint_presets(request):
    from aiohttp import web

    try:
        check_origin(request, changes_state=False)
    except Refused as exc:
        return refusal_response(exc)
    return web.json_response(presets_payload())


def register_route() -> bool:
    """Add the route to ComfyUI's server when one exists; True if it is (now) registered."""
    return add_route("GET", ROUTE, keypoint_presets)


register_route()
