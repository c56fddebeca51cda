"""Run API-format prompts in-process with ComfyUI's own executor (no HTTP server, no threads)."""
from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass, field

__all__ = ["ServerStub", "PromptRunner", "PromptError", "RunResult", "run_prompt", "load_custom_node",
           "use_model_dir", "set_io_dirs"]


class ServerStub:
    """The part of server.PromptServer that execution.PromptExecutor and its progress handler touch:
    ``client_id``, ``last_node_id``, ``last_prompt_id``, ``sockets_metadata`` and ``send_sync``.
    Every message is recorded in ``messages`` as ``(event, data)``."""

    def __init__(self):
        self.client_id = None
        self.last_node_id = None
        self.last_prompt_id = None
        self.sockets_metadata = {}
        self.messages: list = []

    def send_sync(self, event, data, sid=None):
        self.messages.append((event, data))

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
    error: dict | None = None                        # execution_error payload, if any

    def output(self, node_id, index=0):
        """Value of output socket ``index`` of node ``node_id`` (first item of a list output)."""
        return self.outputs[str(node_id)][index]


class PromptRunner:
    """Keeps one ``execution.PromptExecutor`` so that, as in the server, node outputs are cached between
    runs: a node whose class, inputs (and ancestors' signatures) and IS_CHANGED value are unchanged is not
    executed again. ``cache="classic"`` (the default in main.py), ``"lru"`` or ``"none"``."""

    def __init__(self, cache: str = "classic", lru_size: int = 0):
        import execution

        kinds = {"classic": execution.CacheType.CLASSIC, "lru": execution.CacheType.LRU,
                 "none": execution.CacheType.DEPENDENCY_AWARE}
        self.server = ServerStub()
        self.executor = execution.PromptExecutor(self.server, cache_type=kinds[cache], cache_size=lru_size)

    def validate(self, prompt: dict, prompt_id: str | None = None):
        import execution

        return asyncio.run(execution.validate_prompt(prompt_id or "validate", prompt, None))

    def run(self, prompt: dict, raise_on_error: bool = True) -> RunResult:
        import execution  # noqa: F401

        prompt = {str(k): v for k, v in prompt.items()}
        prompt_id = str(uuid.uuid4())
        valid, err, outputs_to_execute, node_errors = self.validate(prompt, prompt_id)
        if not valid:
            if raise_on_error:
                per_node = "; ".join(f"{nid} ({ne.get('class_type')}): " + ", ".join(
                    f"{e.get('message')}: {e.get('details')}" for e in ne.get("errors", []))
                    for nid, ne in (node_errors or {}).items())
                raise PromptError(f"invalid prompt: {err.get('message')}: {err.get('details')} {per_node}".strip(),
                                  {"error": err, "node_errors": node_errors})
            return RunResult(prompt_id, False, {}, error={"error": err, "node_errors": node_errors})
        self.server.messages = []
        self.executor.execute(prompt, prompt_id, {"client_id": "comfy_support"}, outputs_to_execute)
        msgs = list(self.server.messages)
        executed = [d["node"] for e, d in msgs if e == "executing" and d.get("node") is not None]
        cached = next((d["nodes"] for e, d in msgs if e == "execution_cached"), [])
        error = next((d for e, d in self.executor.status_messages if e in ("execution_error", "execution_interrupted")), None)
        outs = {}
        for node_id in prompt:
            o = self.executor.caches.outputs.get(node_id)
            if o is not None:
                outs[node_id] = tuple(v[0] if isinstance(v, list) and len(v) > 0 else v for v in o)
        result = RunResult(prompt_id, self.executor.success, getattr(self.executor, "history_result", {}),
                           outs, executed, list(cached), msgs, error)
        if raise_on_error and not result.success:
            raise PromptError(f"execution failed: {error.get('exception_type') if error else ''}: "
                              f"{error.get('exception_message') if error else ''}", error)
        return result


_DEFAULT_RUNNER: PromptRunner | None = None


def run_prompt(api_prompt: dict, runner: PromptRunner | None = None, raise_on_error: bool = True) -> RunResult:
    """Validate and execute an API-format prompt with a process-wide :class:`PromptRunner` (so repeated
    calls share ComfyUI's output cache, as queued prompts do in the server)."""
    global _DEFAULT_RUNNER
    if runner is None:
        if _DEFAULT_RUNNER is None:
            _DEFAULT_RUNNER = PromptRunner()
        runner = _DEFAULT_RUNNER
    return runner.run(api_prompt, raise_on_error=raise_on_error)


def load_custom_node(path: str, ignore_existing: bool = False) -> bool:
    """Load a custom node pack (a directory with __init__.py, or a .py file) the way ComfyUI does at
    start-up (``nodes.load_custom_node``). Its NODE_CLASS_MAPPINGS are merged into
    ``nodes.NODE_CLASS_MAPPINGS``. Returns True on success (ComfyUI logs, not raises, import errors)."""
    import nodes

    ignore = set(nodes.NODE_CLASS_MAPPINGS.keys()) if ignore_existing else set()
    return asyncio.run(nodes.load_custom_node(os.path.abspath(path), ignore=ignore, module_parent="custom_nodes"))


def use_model_dir(root: str, folders=("checkpoints", "controlnet", "diffusion_models", "vae", "text_encoders")) -> dict:
    """Register ``<root>/<folder>`` as the first search path of each model folder (creating the dirs),
    exactly as an extra_model_paths.yaml entry with ``is_default: true`` does
    (``folder_paths.add_model_folder_path(name, path, is_default=True)``; a folder name ComfyUI does not
    know yet is created with an empty extension set, i.e. every file is listed). Returns {folder: path}."""
    import folder_paths

    out = {}
    for name in folders:
        p = os.path.join(root, name)
        os.makedirs(p, exist_ok=True)
        folder_paths.add_model_folder_path(name, p, is_default=True)
        out[name] = p
    folder_paths.filename_list_cache.clear()
    return out


def set_io_dirs(root: str) -> dict:
    """Point ComfyUI's output/temp/input directories at ``<root>/{output,temp,input}`` (SaveImage,
    PreviewImage and LoadImage use them)."""
    import folder_paths

    d = {k: os.path.join(root, k) for k in ("output", "temp", "input")}
    for p in d.values():
        os.makedirs(p, exist_ok=True)
    folder_paths.set_output_directory(d["output"])
    folder_paths.set_temp_directory(d["temp"])
    folder_paths.set_input_directory(d["input"])
    return d
