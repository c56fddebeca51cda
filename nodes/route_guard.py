"""The pack's own checks on every request to its HTTP routes, whatever ComfyUI's middlewares do or do not check
(they differ between versions and launch flags, e.g. --enable-cors-header).

- Origin: a browser request from another site is refused (403). A request that carries an Origin header must
  come from the page's own origin (its host and port are those the request was sent to); one without an Origin
  header (curl, a script; browsers send one with every POST) may change state only from this machine (loopback).
- Body (POST): ``application/json`` only (415 otherwise: a cross-site HTML form cannot send it without a CORS
  preflight, which ComfyUI does not grant), at most ``max_bytes`` (413), nested at most ``max_depth`` levels
  (413, checked on the raw bytes before the parser sees them, so no RecursionError), and valid JSON (400).

Every refusal is a JSON answer {"error": "..."} that says what was wrong.
"""
from __future__ import annotations

import ipaddress
import json
import re
from typing import Optional, Tuple
from urllib.parse import urlsplit

import numpy as np

JSON_TYPE = "application/json"
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)  # JSON strings: brackets inside them do not nest


class Refused(Exception):
    """A request the route does not serve: the HTTP status and the sentence for the answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _netloc(host: str, default_port: Optional[int]) -> Tuple[str, Optional[int]]:
    parts = urlsplit("//" + host)
    try:
        port = parts.port
    except ValueError:
        port = None
    return (parts.hostname or "").lower(), port if port is not None else default_port


def is_loopback(address: Optional[str]) -> bool:
    try:
        return ipaddress.ip_address((address or "").split("%")[0]).is_loopback
    except ValueError:
        return address == "localhost"


def check_origin(request, changes_state: bool) -> None:
    """Raise Refused(403) unless the request comes from the page's own origin (see the module's note)."""
    headers = request.headers
    if headers.get("Sec-Fetch-Site", "").lower() in ("cross-site", "same-site"):
        raise Refused(403, "this route answers ComfyUI's own page only (the request came from another site)")
    origin = headers.get("Origin")
    if origin is None:
        if changes_state and not is_loopback(request.remote):
            raise Refused(403, "a request without an Origin header may start this only from the ComfyUI "
                               "machine itself; use ComfyUI's page")
        return
    parts = urlsplit(origin)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    if origin == "null" or default is None or not parts.hostname:
        raise Refused(403, f"requests from origin {origin!r} are not served; use ComfyUI's page")
    mine = [_netloc(h, default) for h in (headers.get("Host"), headers.get("X-Forwarded-Host")) if h]
    if _netloc(parts.netloc, default) not in mine:
        raise Refused(403, f"requests from origin {origin!r} are not served here (another site); use ComfyUI's "
                           f"page")


def nesting_depth(raw: bytes) -> int:
    """The deepest bracket nesting of a JSON text, strings skipped (exact for valid JSON; for invalid text an
    estimate that the parser then refuses anyway)."""
    codes = np.frombuffer(_STRINGS.sub(b'""', raw), np.uint8)
    steps = np.zeros(codes.shape, np.int32)
    steps[(codes == ord("[")) | (codes == ord("{"))] = 1
    steps[(codes == ord("]")) | (codes == ord("}"))] = -1
    return int(np.cumsum(steps).max(initial=0))


async def read_body(request, max_bytes: int) -> bytes:
    """The body, refused (413) once it exceeds ``max_bytes``, announced or not (chunked uploads have no
    length)."""
    too_big = Refused(413, f"the request body is larger than {max_bytes} bytes")
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_big
    parts, size = [], 0
    while True:
        chunk = await request.content.read(1 << 16)
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > max_bytes:
            raise too_big
        parts.append(chunk)


def check_json_type(request) -> None:
    if (request.content_type or "").lower() != JSON_TYPE:
        raise Refused(415, f"send the body as {JSON_TYPE} (got {request.content_type or 'none'})")


def parse_json(raw: bytes, max_depth: int):
    """The parsed body; Refused for a body nested too deeply (413) or not JSON (400)."""
    if nesting_depth(raw) > max_depth:
        raise Refused(413, f"the request body is nested too deeply (more than {max_depth} levels)")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise Refused(400, f"the request body is not JSON ({exc})") from exc


def refusal_response(exc: Refused):
    from aiohttp import web
    return web.json_response({"error": str(exc)}, status=exc.status)
