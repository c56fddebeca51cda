"""Validate and run API-format prompts with ComfyUI's own executor, in this process (no HTTP server, no
threads), recording what the server would have sent to the browser. Used by the command-line runner, the
tests and the benchmarks alike. ComfyUI's private execution API is reached only through runner/core_execution.py."""
from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional

from . import core_execution

Listener = Callable[[str, dict], None]


class MessageLog:
    """What execution.PromptExecutor and its progress handlers need of the server (client_id, last_node_id,
    last_prompt_id, sockets_metadata, send_sync, queue_updated). Every message is kept as (event, data) and
    handed to ``listener`` as it arrives."""

    def __init__(self, listener: Optional[Listener] = None):
        self.client_id = None
        self.last_node_id = None
        self.last_prompt_id = None
        self.sockets_metadata = {}
        self.messages: list = []
        self.listener = listener

    def send_sync(self, event, data, sid=None):
        self.messages.append((event, data))
        if self.listener is not None:
            self.listener(event, data)

    def queue_updated(self):
        pass


class PromptError(RuntimeError):
    def __init__(self, message, details=None):
        super().__init__(message)
        self.details = details


@dataclass
class RunResult:
    prompt_id: str
    success: bool
    history: dict                                    # executor.history_result: {"outputs": ui, "meta": ...}
    outputs: dict = field(default_factory=dict)      # node id -> output tuple (first list item), all nodes
    executed: list = field(default_factory=list)     # node ids actually executed this run, in order
    cached: list = field(default_factory=list)       # node ids served from the cache this run
    messages: list = field(default_factory=list)     # (event, data) sent to the "client"
    error: Optional[dict] = None                     # execution_error / execution_interrupted payload

    def output(self, node_id, index=0):
        """Value of output socket ``index`` of node ``node_id`` (first item of a list output)."""
        return self.outputs[str(node_id)][index]


class PromptRunner:
    """Keeps one ``execution.PromptExecutor`` so that, as in the server, node outputs are cached between runs:
    a node whose inputs (and ancestors) and IS_CHANGED are unchanged is not executed again.
    ``cache="classic"`` (every core has it; the default of v0.3.64's main.py, while v0.33's main.py defaults to a
    cache that also evicts by free RAM), ``"lru"`` or ``"none"``."""

    def __init__(self, cache: str = "classic", lru_size: int = 0, listener: Optional[Listener] = None):
        self.server = MessageLog(listener)
        self.executor = core_execution.new_executor(self.server, cache, lru_size)

    def validate(self, prompt: dict, prompt_id: Optional[str] = None):
        return asyncio.run(core_execution.validate(prompt, prompt_id or "validate"))

    def held_outputs(self, node_id):
        """Every output list the executor's cache holds for ``node_id`` (the whole lists, where RunResult keeps
        each list's first item); None when it holds nothing for it."""
        node_id = str(node_id)
        return asyncio.run(core_execution.cached_outputs(self.executor, [node_id])).get(node_id)

    def run(self, prompt: dict, raise_on_error: bool = True) -> RunResult:
        prompt = {str(k): v for k, v in prompt.items()}
        prompt_id = str(uuid.uuid4())
        return asyncio.run(self._run(prompt, prompt_id, raise_on_error))

    async def _run(self, prompt: dict, prompt_id: str, raise_on_error: bool) -> RunResult:
        """Validation, execution and reading the outputs back, on one event loop (v0.33's cache is read with
        coroutines)."""
        import comfy.utils

        valid, err, outputs_to_execute, node_errors = await core_execution.validate(prompt, prompt_id)
        if not valid:
            if raise_on_error:
                raise PromptError(describe_invalid(prompt, err, node_errors),
                                  {"error": err, "node_errors": node_errors})
            return RunResult(prompt_id, False, {}, error={"error": err, "node_errors": node_errors})
        self.server.messages = []
        hook = comfy.utils.PROGRESS_BAR_HOOK
        comfy.utils.PROGRESS_BAR_HOOK = core_execution.progress_hook(self.server, hook)
        headless = core_execution.headless_server()
        if headless is not None:
            headless.log = self.server
        try:  # a client id makes the executor report 'executing'/'executed' per node, as to a browser
            await core_execution.execute(self.executor, prompt, prompt_id, {"client_id": "instantid-runner"},
                                         outputs_to_execute)
        finally:
            comfy.utils.PROGRESS_BAR_HOOK = hook
            if headless is not None:
                headless.log = None
        msgs = list(self.server.messages)
        executed = [d["node"] for e, d in msgs if e == "executing" and d.get("node") is not None]
        cached = next((d["nodes"] for e, d in msgs if e == "execution_cached"), [])
        error = next((d for e, d in self.executor.status_messages
                      if e in ("execution_error", "execution_interrupted")), None)
        held = await core_execution.cached_outputs(self.executor, prompt)
        outs = {node_id: tuple(v[0] if isinstance(v, list) and len(v) > 0 else v for v in o)
                for node_id, o in held.items()}
        result = RunResult(prompt_id, self.executor.success, getattr(self.executor, "history_result", {}),
                           outs, executed, list(cached), msgs, error)
        if raise_on_error and not result.success:
            raise PromptError(describe_failure(prompt, error), error)
        return result


def _title(prompt: dict, node_id) -> str:
    node = prompt.get(str(node_id), {})
    return node.get("_meta", {}).get("title") or node.get("class_type", "?")


def describe_invalid(prompt: dict, err: dict, node_errors: dict) -> str:
    per_node = "; ".join(f"node {nid} '{_title(prompt, nid)}': " + ", ".join(
        f"{e.get('message')} ({e.get('details')})" for e in ne.get("errors", []))
        for nid, ne in (node_errors or {}).items())
    return f"the workflow is not valid for this ComfyUI: {err.get('message')} {per_node}".strip()


def describe_failure(prompt: dict, error: Optional[dict]) -> str:
    if not error:
        return "the workflow did not finish"
    if "exception_message" not in error:
        return "the run was interrupted"
    return (f"node {error.get('node_id', '?')} '{_title(prompt, error.get('node_id'))}' "
            f"({error.get('node_type', '?')}) failed: {error.get('exception_message', '').strip()}")


def saved_images(outputs: dict) -> List[Path]:
    """Where the images a run saved (or previewed) are: its history's outputs read as ComfyUI's folders."""
    import folder_paths
    files = []
    for ui in outputs.values():
        for img in ui.get("images", []):
            base = folder_paths.get_directory_by_type(img.get("type", "output"))
            files.append(Path(base, img.get("subfolder", ""), img["filename"]))
    return files
