"""The one place that touches ComfyUI's private execution API (execution.py, comfy_execution, server.PromptServer),
in both shapes the supported cores have. Everything is told apart by what the core offers (attributes, signatures,
coroutine functions), never by a version string, so a core between the two works as whichever it resembles.

                        v0.3.64 (Oct 2025)                      v0.33 (Aug 2026)
  "no cache" type       CacheType.DEPENDENCY_AWARE              CacheType.NONE
  PromptExecutor(...)   cache_size=N                            cache_args={"lru", "ram", "ram_inactive"}
  outputs cache .get    plain function -> output lists          coroutine -> CacheEntry(ui, outputs)
  node replacements     (none)                                  PromptServer.instance.node_replace_manager

The runner and the tests' kit reach ComfyUI's executor only through here (runner/in_process_comfy.PromptRunner).

Everything else of ComfyUI the runner relies on is the same on both cores (runner/boot.py, runner/in_process_comfy.py):
comfy.options.enable_args_parsing and comfy.cli_args.args; folder_paths.set_output_directory /
set_input_directory; utils.extra_config.load_extra_path_config; nodes.init_extra_nodes(init_custom_nodes=,
init_api_nodes=), nodes.load_custom_node(path, ignore=, module_parent=) and nodes.NODE_CLASS_MAPPINGS; the
executor's success, status_messages and history_result; what it asks of its server (client_id, last_node_id,
last_prompt_id, sockets_metadata, send_sync, queue_updated); comfy.utils.PROGRESS_BAR_HOOK with
comfy_execution.progress.get_progress_state, comfy_execution.utils.get_executing_context and
comfy.model_management.throw_exception_if_processing_interrupted."""
from __future__ import annotations

import inspect
import sys
from typing import Iterable, Optional


async def _settled(value):
    """``value``, awaited first when the core handed back an awaitable (v0.33's cache and validation)."""
    return await value if inspect.isawaitable(value) else value


def new_executor(server, cache: str = "classic", lru_size: int = 0):
    """``execution.PromptExecutor`` with ``cache`` as main.py would set it up: "classic" (--cache-classic),
    "lru" (--cache-lru N) or "none" (--cache-none)."""
    import execution

    kinds = execution.CacheType
    none = getattr(kinds, "NONE", None) or getattr(kinds, "DEPENDENCY_AWARE")
    cache_type = {"classic": kinds.CLASSIC, "lru": kinds.LRU, "none": none}[cache]
    parameters = inspect.signature(execution.PromptExecutor.__init__).parameters
    if "cache_args" in parameters:
        # the RAM-pressure limits are read on every run whatever the cache type; 0 is what main.py passes
        # for the classic, LRU and no-cache types (no RAM-pressure release)
        sizing = {"cache_args": {"lru": lru_size, "ram": 0.0, "ram_inactive": 0.0}}
    else:
        sizing = {"cache_size": lru_size}
    return execution.PromptExecutor(server, cache_type=cache_type, **sizing)


async def validate(prompt: dict, prompt_id: str):
    """execution.validate_prompt: (valid, error, outputs to execute, node errors)."""
    import execution

    return await _settled(execution.validate_prompt(prompt_id, prompt, None))


async def execute(executor, prompt: dict, prompt_id: str, extra_data: dict, outputs: list) -> None:
    """One prompt through the executor, on the caller's event loop where the core is asynchronous."""
    run_async = getattr(executor, "execute_async", None)
    if run_async is not None and inspect.iscoroutinefunction(run_async):
        await run_async(prompt, prompt_id, extra_data, outputs)
    else:
        executor.execute(prompt, prompt_id, extra_data, outputs)


async def cached_outputs(executor, node_ids: Iterable[str]) -> dict:
    """node id -> the output lists the executor holds for it after a run (nodes it holds nothing for are left out;
    with the "none" cache that can be every node)."""
    import execution

    entry_type = getattr(execution, "CacheEntry", None)  # v0.33 caches (ui, outputs) pairs
    found = {}
    for node_id in node_ids:
        value = await _settled(executor.caches.outputs.get(node_id))
        if value is None:
            continue
        if entry_type is not None and isinstance(value, entry_type):
            value = value.outputs
        found[node_id] = value
    return found


def progress_hook(log, previous=None):
    """What main.py installs as comfy.utils.PROGRESS_BAR_HOOK, sending 'progress' to ``log`` (a
    runner.in_process_comfy.MessageLog) instead of a socket (a hook someone installed before is still called)."""
    import comfy.model_management
    from comfy_execution.progress import get_progress_state
    from comfy_execution.utils import get_executing_context

    def hook(value, total, preview_image, prompt_id=None, node_id=None):
        context = get_executing_context()
        prompt_id = prompt_id or (context.prompt_id if context else log.last_prompt_id)
        node_id = node_id or (context.node_id if context else log.last_node_id)
        comfy.model_management.throw_exception_if_processing_interrupted()
        get_progress_state().update_progress(node_id, value, total, preview_image)
        log.send_sync("progress", {"value": value, "max": total, "prompt_id": prompt_id, "node": node_id},
                      log.client_id)
        if previous is not None:
            previous(value, total, preview_image, prompt_id=prompt_id, node_id=node_id)

    return hook


class HeadlessServer:
    """Stands in for ``server.PromptServer.instance`` where ComfyUI runs without its web server (the command line,
    the tests' in-process executor). It offers only what built-in nodes call on the instance while they load or
    run: the node-replacement registry (v0.33's comfy_extras/nodes_replacements.py registers into it at start-up,
    and fails with a misleading "pip install -r requirements.txt" without it) and the progress text a few nodes
    send. It has no ``routes``: packs that add HTTP routes see that no server runs, as before."""

    def __init__(self):
        self.log = None  # the runner.in_process_comfy.MessageLog of the prompt running now, if any
        try:
            from app.node_replace_manager import NodeReplaceManager
        except ImportError:  # a core without node replacement: nothing registers into it
            pass
        else:
            self.node_replace_manager = NodeReplaceManager()

    def send_progress_text(self, text, node_id, sid=None) -> None:
        if self.log is not None:
            self.log.send_sync("progress_text", {"node": node_id, "text": text}, sid)


def install_headless_server() -> Optional[HeadlessServer]:
    """Put a HeadlessServer where ComfyUI's nodes look for the running server, unless a real one (or an earlier
    stand-in) is there already. Returns the stand-in in place, or None when a real server runs."""
    import server

    current = getattr(server.PromptServer, "instance", None)
    if current is None:
        current = server.PromptServer.instance = HeadlessServer()
    return current if isinstance(current, HeadlessServer) else None


def headless_server() -> Optional[HeadlessServer]:
    """The stand-in installed by install_headless_server, if ComfyUI is running under it."""
    server = sys.modules.get("server")
    current = getattr(getattr(server, "PromptServer", None), "instance", None)
    return current if isinstance(current, HeadlessServer) else None
