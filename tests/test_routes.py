"""Every HTTP route the pack registers, walked from its own registrations (nodes/server_routes.REQUESTED, filled
as the pack loads): a foreign origin is refused, a state-changing POST takes only a bounded application/json
body (a body nested 10⁵ deep is a clear 413, never aiohttp's bare 500), and no answer holds an absolute path of
the machine (issue 26, findings 11 and 12). The routes run on a real aiohttp server (aiohttp's test server),
the handlers as ComfyUI would call them, but without ComfyUI's own middlewares: the pack's checks alone."""
import asyncio
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from instantid_testkit.comfy_env import ROOT, comfy_env

SAME = "http://127.0.0.1"  # + the test server's port
DEEP = b"[" * 100_000 + b"]" * 100_000   # the probe's body
DEEP_SMALL = b"[" * 2_000 + b"]" * 2_000     # as deep as fits under the smallest size bound


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return comfy_env(tmp_path_factory.mktemp("comfy_routes"))


@pytest.fixture(scope="module")
def routes(env):
    requested = dict(env.pack("nodes.server_routes").REQUESTED)
    assert requested, "the pack registered no route while loading"
    return requested


def test_every_route_goes_through_add_route():
    """A route registered another way would escape the walk below (and REQUESTED)."""
    for source in sorted((ROOT / "nodes").glob("*.py")):
        text = source.read_text()
        if source.name != "server_routes.py":
            assert not re.search(r"PromptServer|\.routes\b|add_(get|post|route)\(", text.replace("add_route(", "")), \
                f"{source.name} registers a route without nodes/server_routes.add_route"


def _walk(routes, scenario):
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    async def run():
        app = web.Application()
        for (method, path), handler in routes.items():
            app.router.add_route(method, path, handler)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            return await scenario(client, f"{SAME}:{client.port}")
    return asyncio.run(run())


async def _answer(response):
    text = await response.text()
    return response.status, json.loads(text)  # every answer, refusals included, is JSON


def test_a_foreign_origin_is_refused_on_every_route(routes):
    async def scenario(client, same):
        out = {}
        for (method, path) in routes:
            for origin in ("http://evil.example", "null", f"{same}1", "http://localhost.evil.example"):
                r = await client.request(method, path, data=b"{}", headers={
                    "Origin": origin, "Content-Type": "application/json"})
                out[(method, path, origin)] = await _answer(r)
            r = await client.request(method, path, data=b"{}", headers={
                "Origin": same, "Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"})
            out[(method, path, "sec-fetch")] = await _answer(r)
        return out
    for key, (status, answer) in _walk(routes, scenario).items():
        assert status == 403 and ("not served" in answer["error"] or "another site" in answer["error"]), (key, answer)


def test_a_deep_body_and_a_wrong_content_type_on_every_route(routes):
    async def scenario(client, same):
        out = {}
        for (method, path) in routes:
            headers = {"Origin": same, "Content-Type": "application/json"}
            out[(method, path, "deep")] = await _answer(await client.request(method, path, data=DEEP, headers=headers))
            out[(method, path, "deep small")] = await _answer(await client.request(method, path, data=DEEP_SMALL,
                                                                                   headers=headers))
            out[(method, path, "text")] = await _answer(await client.request(
                method, path, data=b'{"groups": ["adapter"]}', headers={**headers, "Content-Type": "text/plain"}))
            out[(method, path, "form")] = await _answer(await client.request(
                method, path, data=b"groups=adapter", headers={
                    **headers, "Content-Type": "application/x-www-form-urlencoded"}))
            out[(method, path, "not json")] = await _answer(await client.request(
                method, path, data=b"{not json", headers=headers))
        return out
    answers = _walk(routes, scenario)
    for (method, path, case), (status, answer) in answers.items():
        if method == "GET":  # reads nothing from the body, changes nothing
            assert status == 200, (path, case, answer)
        elif case == "deep":
            assert status == 413 and re.search("nested too deeply|larger than", answer["error"]), (path, answer)
        elif case == "deep small":
            assert status == 413 and "nested too deeply" in answer["error"], (path, answer)
        elif case == "not json":
            assert status == 400 and "not JSON" in answer["error"], (path, answer)
        else:
            assert status == 415 and "application/json" in answer["error"], (path, case, answer)
    assert any(m == "POST" for m, _ in routes) and any(m == "GET" for m, _ in routes)


def test_the_download_route_takes_catalog_names_only_after_its_checks(routes):
    async def scenario(client, same):
        headers = {"Origin": same, "Content-Type": "application/json"}
        out = []
        for body in ({"groups": ["https://evil.example/x.bin"]}, {"groups": ["adapter"], "to": "/etc"},
                     {"groups": "adapter"}):
            out.append(await _answer(await client.post("/instantid_precision/models/download", json=body,
                                                        headers=headers)))
        return out
    for status, answer in _walk(routes, scenario):
        assert status == 400 and ("unknown" in answer["error"] or "the body must be" in answer["error"]), answer


def test_a_post_without_origin_may_change_state_only_from_loopback(env):
    guard = env.pack("nodes.route_guard")
    local = SimpleNamespace(headers={"Host": "127.0.0.1:8188"}, remote="127.0.0.1")
    remote = SimpleNamespace(headers={"Host": "10.0.0.2:8188"}, remote="10.0.0.7")
    guard.check_origin(local, changes_state=True)
    guard.check_origin(remote, changes_state=False)  # reading (or converting) is fine
    with pytest.raises(guard.Refused) as err:
        guard.check_origin(remote, changes_state=True)
    assert err.value.status == 403
    # the page itself, served to another machine (--listen), sends its own origin: served
    page = SimpleNamespace(headers={"Host": "10.0.0.2:8188", "Origin": "http://10.0.0.2:8188"}, remote="10.0.0.7")
    guard.check_origin(page, changes_state=True)
    proxied = SimpleNamespace(headers={"Host": "127.0.0.1:8188", "X-Forwarded-Host": "comfy.example",
                                       "Origin": "https://comfy.example"}, remote="127.0.0.1")
    guard.check_origin(proxied, changes_state=True)


def test_nesting_depth_skips_strings(env):
    guard = env.pack("nodes.route_guard")
    assert guard.nesting_depth(b'{"a": "[[[[{{{{", "b": [[1]]}') == 3
    assert guard.nesting_depth(b'["\\"[[[", [2]]') == 2
    assert guard.nesting_depth(DEEP) == 100_000


def test_no_answer_holds_an_absolute_path(env, routes):
    import folder_paths

    async def scenario(client, same):
        out = []
        for (method, path) in routes:
            if method == "GET":
                r = await client.get(path)
                out.append((path, r.status, await r.text()))
        return out
    answers = _walk(routes, scenario)
    roots = {str(Path(folder_paths.models_dir).resolve()), str(env.tmp), str(Path.home())}
    for path, status, text in answers:
        assert status == 200
        for root in roots:
            assert root not in text, (path, root)
    status = json.loads(next(t for p, _, t in answers if p == "/instantid_precision/models"))
    for f in status["files"]:  # what web/model_downloads.js shows: the folder relative to models/
        assert not Path(f["folder"]).is_absolute() and re.match(r"(models|<\w+ folder>)/", f["path"]), f
