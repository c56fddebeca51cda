"""Rows on running ComfyUI servers, through ComfyUI's own API: photos go up with /upload/image (named by their
content hash, so a photo goes up once per server), the row's API prompt is queued with /prompt under this
batch's client id, progress and completion come on /ws, the images come back from /view.

Each server has at most ``queue`` of our prompts at a time (one running, one waiting: the server never idles,
and no server hoards rows another could run). A free server takes the next row of the person it ran last,
when there is one (its cache still holds that person's face analysis), else the next row. A server that stops
answering, drops its WebSocket, or answers a server error is dropped, and its rows go back to the front of
the queue for the others. A row's own failure (validation, a node error such as no face) is that row's error.
aiohttp only (ComfyUI's own requirement); ComfyUI is not imported here."""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Deque, Dict, List, Optional

from .inputs import staged_bytes
from ..in_process_comfy import describe_failure, describe_invalid
from ..workflow_prompt import RunnerError, workflow_to_api
from .manifest import IDENTITY_SUFFIX, Job
from .prompts import Outcome, Stager, build_prompt, score_from_outputs

PACK_PREFIX = "InstantIDPrecision_"


class ServerSetupError(RuntimeError):
    """No server can run the batch (message names each server and what it lacks)."""


class ServerDown(Exception):
    """The server, not the row, failed: the row is requeued elsewhere."""


class RowFailed(Exception):
    pass


def _describe(prompt: dict, error: Optional[dict]) -> str:
    return describe_failure(prompt, error)


def _invalid(prompt: dict, body) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return describe_invalid(prompt, body["error"], body.get("node_errors") or {})
    return f"the server refused the prompt: {body}"


class Server:
    def __init__(self, url: str):
        self.url = url.rstrip("/")
        if "://" not in self.url:
            self.url = "http://" + self.url
        self.client_id = f"instantid-batch-{uuid.uuid4().hex[:8]}"
        self.base_api: Optional[dict] = None
        self.uploaded = set()
        self.inflight: Dict[str, Job] = {}       # output name -> job
        self.waiters: Dict[str, asyncio.Event] = {}  # prompt id -> set when the server reports it finished
        self.running: Dict[str, Job] = {}        # prompt id -> job, for progress
        self.alive = True
        self.last_person: Optional[str] = None
        self.session = None

    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + f"/ws?clientId={self.client_id}"


class ServerExecutor:
    def __init__(self, urls: List[str], workflow: dict, workflow_name: str, options: dict, queue: int = 2,
                 say=print, timeout: float = 30.0):
        self.servers = [Server(u) for u in urls]
        self.workflow, self.workflow_name, self.options = workflow, workflow_name, options
        self.queue, self.say, self.timeout = queue, say, timeout
        self.name = "servers"

    # -- set-up: which servers can run this workflow -----------------------------------------------------
    def check(self) -> None:
        """Reads each server's /object_info; drops (and names) the servers that cannot run the workflow."""
        problems = asyncio.run(self._check_all())
        for url, problem in problems.items():
            self.say(f"server {url}: {problem}; not used")
        self.servers = [s for s in self.servers if s.url not in problems]
        if not self.servers:
            raise ServerSetupError("no server can run this batch:\n" + "\n".join(
                f"  {url}: {p}" for url, p in problems.items()))

    async def _check_all(self) -> Dict[str, str]:
        import aiohttp
        problems = {}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session:
            for server in self.servers:
                problem = await self._check(session, server)
                if problem:
                    problems[server.url] = problem
        return problems

    async def _check(self, session, server: Server) -> Optional[str]:
        import aiohttp
        try:
            async with session.get(server.url + "/object_info") as r:
                if r.status != 200:
                    return f"/object_info answered {r.status}"
                definitions = await r.json()
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            return f"cannot be reached ({exc or type(exc).__name__})"
        if not any(k.startswith(PACK_PREFIX) for k in definitions):
            return "lacks this pack (no InstantIDPrecision nodes): install it in that ComfyUI's custom_nodes and restart it"
        try:
            server.base_api = workflow_to_api(self.workflow, definitions, lambda _l: None, self.workflow_name)
        except RunnerError as exc:
            return f"cannot run the workflow: {exc}"
        missing = sorted({n["class_type"] for n in server.base_api.values()} - set(definitions))
        if missing:
            return f"lacks the node types {missing}"
        return None

    # -- the run -----------------------------------------------------------------------------------------
    def run(self, jobs: List[Job], sink) -> None:
        if any(s.base_api is None for s in self.servers):
            self.check()
        asyncio.run(self._run(jobs, sink))

    async def _run(self, jobs: List[Job], sink) -> None:
        import aiohttp
        pending: Deque[Job] = deque(jobs)
        changed = asyncio.Event()
        self._pending, self._changed, self._sink = pending, changed, sink
        async with aiohttp.ClientSession() as session:
            for s in self.servers:
                s.session = session
            loops = [asyncio.create_task(self._serve(s)) for s in self.servers]
            while True:
                busy = any(s.inflight for s in self.servers)
                alive = [s for s in self.servers if s.alive]
                if not busy and (not pending or sink.stopping() or not alive):
                    break
                changed.clear()
                try:
                    await asyncio.wait_for(changed.wait(), 1.0)
                except asyncio.TimeoutError:
                    pass
            for t in loops:
                t.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
        if pending and not sink.stopping():
            for job in list(pending):
                sink.done(job, Outcome(error="no ComfyUI server left to run this row (all stopped answering)",
                                       worker="servers"))

    def _take(self, server: Server) -> Optional[Job]:
        pending = self._pending
        if not pending or self._sink.stopping():
            return None
        for i, job in enumerate(pending):
            if job.person == server.last_person:
                del pending[i]
                return job
        return pending.popleft()

    async def _serve(self, server: Server) -> None:
        """Feeds one server while it lives; its rows go back to the queue when it dies."""
        listener = asyncio.create_task(self._listen(server))
        tasks = set()
        try:
            while server.alive:
                while len(server.inflight) < self.queue:
                    job = self._take(server)
                    if job is None:
                        break
                    server.inflight[job.output] = job
                    server.last_person = job.person
                    tasks.add(asyncio.create_task(self._one(server, job)))
                if listener.done() and server.alive:
                    self._drop(server, "its WebSocket closed")
                done, _ = await asyncio.wait(tasks | {listener}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
                tasks -= done
        finally:
            for t in tasks | {listener}:
                t.cancel()

    def _drop(self, server: Server, why: str) -> None:
        if not server.alive:
            return
        server.alive = False
        requeue = [j for j in server.inflight.values() if j.output not in self._sink.finished]
        server.inflight.clear()
        for job in reversed(requeue):
            self._pending.appendleft(job)
        for ev in server.waiters.values():
            ev.set()
        self.say(f"server {server.url} dropped ({why}); {len(requeue)} row(s) requeued on the others")
        self._changed.set()

    async def _listen(self, server: Server) -> None:
        """/ws messages for our client id: progress, and which prompt finished."""
        import aiohttp
        try:
            async with server.session.ws_connect(server.ws_url(), heartbeat=30) as ws:
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        continue
                    try:
                        message = json.loads(msg.data)
                    except ValueError:
                        continue
                    kind, data = message.get("type"), message.get("data") or {}
                    pid = data.get("prompt_id")
                    if kind == "progress" and pid in server.running and data.get("max"):
                        self._sink.progress(server.running[pid], int(data["value"]), int(data["max"]))
                    elif kind == "execution_start" and pid in server.running:
                        self._sink.started(server.running[pid])
                    elif (kind in ("execution_success", "execution_error", "execution_interrupted")
                          or (kind == "executing" and data.get("node") is None)) and pid in server.waiters:
                        server.waiters[pid].set()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            pass

    async def _one(self, server: Server, job: Job) -> None:
        start = time.perf_counter()
        try:
            outcome = await self._execute(server, job)
        except ServerDown as exc:
            self._drop(server, str(exc))
            return
        except RowFailed as exc:
            outcome = Outcome(error=str(exc))
        except Exception as exc:  # noqa: BLE001 (a network failure of any kind is the server's)
            import aiohttp
            if isinstance(exc, (aiohttp.ClientError, asyncio.TimeoutError, OSError)):
                self._drop(server, f"{type(exc).__name__}: {exc}")
                return
            outcome = Outcome(error=f"{type(exc).__name__}: {exc}")
        if not server.alive or job.output not in server.inflight:
            return  # dropped meanwhile: the row was requeued
        outcome.seconds, outcome.worker = time.perf_counter() - start, server.url
        del server.inflight[job.output]
        self._sink.done(job, outcome)
        self._changed.set()

    async def _request(self, server: Server, method: str, path: str, **kw):
        async with server.session.request(method, server.url + path, **kw) as r:
            body = await r.read()
            if r.status >= 500:
                raise ServerDown(f"{path} answered {r.status}")
            return r.status, body

    async def _upload(self, server: Server, name: str, path: str) -> None:
        import aiohttp
        if name in server.uploaded:
            return
        form = aiohttp.FormData()
        form.add_field("image", staged_bytes(path), filename=name, content_type="application/octet-stream")
        form.add_field("overwrite", "true")  # the name is the content hash: same name, same bytes
        form.add_field("type", "input")
        status, body = await self._request(server, "POST", "/upload/image", data=form)
        if status != 200 or json.loads(body).get("name") != name:
            raise ServerDown(f"/upload/image answered {status}: {body[:200]!r}")
        server.uploaded.add(name)

    async def _execute(self, server: Server, job: Job) -> Outcome:
        uploads = []
        try:
            api = build_prompt(server.base_api, job, self.options, Stager(job, lambda n, p: uploads.append((n, p))))
        except RunnerError as exc:
            raise RowFailed(str(exc)) from exc
        for name, path in uploads:
            if name.endswith(IDENTITY_SUFFIX):  # ComfyUI's API uploads images only, never into models/
                raise RowFailed(f"face {path} is a saved identity: a server cannot be sent one; copy it into "
                                f"the server's models/instantid_identities/ and run the row in-process, or "
                                f"give the face photos instead")
            await self._upload(server, name, path)
        status, body = await self._request(server, "POST", "/prompt",
                                           json={"prompt": api, "client_id": server.client_id})
        answer = json.loads(body or b"null")
        if status != 200:
            raise RowFailed(_invalid(api, answer))
        pid = answer["prompt_id"]
        event = server.waiters[pid] = asyncio.Event()
        server.running[pid] = job
        try:
            entry = await self._wait(server, pid, event)
        finally:
            server.waiters.pop(pid, None)
            server.running.pop(pid, None)
        status_info = entry.get("status") or {}
        if status_info.get("status_str") != "success":
            error = next((d for e, d in status_info.get("messages", [])
                          if e in ("execution_error", "execution_interrupted")), None)
            raise RowFailed(_describe(api, error))
        outputs = entry.get("outputs") or {}
        images = []
        for ui in outputs.values():
            for img in ui.get("images", []):
                params = {"filename": img["filename"], "subfolder": img.get("subfolder", ""),
                          "type": img.get("type", "output")}
                code, data = await self._request(server, "GET", "/view", params=params)
                if code != 200:
                    raise ServerDown(f"/view answered {code}")
                images.append(data)
        if not images:
            raise RowFailed("the workflow ran but saved no image (it has no Save Image / Preview Image node)")
        return Outcome(images=images, score=score_from_outputs(outputs))

    async def _wait(self, server: Server, pid: str, event: asyncio.Event) -> dict:
        """The prompt's /history entry once it is finished (woken by /ws, checked every few seconds too)."""
        while True:
            try:
                await asyncio.wait_for(event.wait(), 3.0)
            except asyncio.TimeoutError:
                pass
            if not server.alive:
                raise ServerDown("dropped")
            status, body = await self._request(server, "GET", f"/history/{pid}")
            entry = json.loads(body or b"{}").get(pid) if status == 200 else None
            if entry and (entry.get("status") or {}).get("completed") is not None:
                return entry
            event.clear()
