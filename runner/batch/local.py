"""The default executor: ComfyUI's own executor in this process (runner/in_process_comfy.PromptRunner), kept for the
whole batch, so models load once and ComfyUI's cache keeps what did not change from one row to the next (a
person's face analysis and projection, while their rows run one after another). ``ComfyWorker`` is also what
each Ray actor runs."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, List, Optional

from .inputs import staged_bytes
from ..in_process_comfy import PromptError, PromptRunner, saved_images
from ..workflow_prompt import RunnerError, node_definitions, preflight, workflow_to_api
from .manifest import IDENTITY_SUFFIX, Job
from .prompts import Outcome, Stager, build_prompt, score_from_outputs

Progress = Callable[[int, int], None]


class ComfyWorker:
    """Runs rows on the ComfyUI booted in this process (runner.boot.boot_comfy, the pack loaded)."""

    def __init__(self, workflow: dict, workflow_name: str, options: dict, say: Callable[[str], None] = print,
                 name: str = "local"):

        self.base = workflow_to_api(workflow, node_definitions(), say, workflow_name)
        self.options = options
        self.say = say
        self.name = name
        self.said = set()
        self.staged: List[str] = []  # files this worker added to ComfyUI's input / identities folders
        self.on_progress: Optional[Progress] = None
        self.runner = PromptRunner(listener=self._listen)

    def _listen(self, event: str, data: dict) -> None:
        if event == "progress" and self.on_progress is not None and data.get("max"):
            self.on_progress(int(data["value"]), int(data["max"]))

    def _put(self, read: Callable[[str], bytes]):
        import folder_paths

        def put(name: str, path: str) -> None:
            if name.endswith(IDENTITY_SUFFIX):  # a saved identity: where Load Identity looks
                folder = folder_paths.get_folder_paths("instantid_identities")[0]
                os.makedirs(folder, exist_ok=True)
            else:
                folder = folder_paths.get_input_directory()
            target = os.path.join(folder, name)
            if not os.path.exists(target):  # the name is the content hash: an existing file is this one
                tmp = f"{target}.{os.getpid()}.part"
                try:
                    with open(tmp, "wb") as f:
                        f.write(read(path))
                    os.replace(tmp, target)
                except OSError as exc:  # a full disk, a read-only input folder: this row's error
                    raise RunnerError(f"cannot put {path} into {folder} ({exc.strerror or exc})") from exc
                self.staged.append(target)
        return put

    def remove_staged(self) -> None:
        """Remove the photos and identities this worker put into ComfyUI's folders (as `run` does its own);
        files that were there before the batch stay."""
        for path in self.staged:
            try:
                os.remove(path)
            except OSError:
                pass
        self.staged.clear()

    def run(self, job: Job, read: Callable[[str], bytes] = staged_bytes) -> Outcome:

        start = time.perf_counter()
        try:
            api = build_prompt(self.base, job, self.options, Stager(job, self._put(read)))
            lines: List[str] = []
            preflight(api, lines.append)
            for line in lines:  # the same model substitution is said once per batch, not per row
                if line not in self.said:
                    self.said.add(line)
                    self.say(line)
            result = self.runner.run(api)
        except (RunnerError, PromptError) as exc:
            return Outcome(error=str(exc), seconds=time.perf_counter() - start, worker=self.name)
        outputs = result.history.get("outputs", {})
        images = []
        for path in saved_images(outputs):
            images.append(path.read_bytes())
            try:  # the batch's copy is the image; ComfyUI's output folder does not fill up with a second one
                path.unlink()
            except OSError:
                pass
        if not images:
            return Outcome(error="the workflow ran but saved no image (it has no Save Image / Preview Image node)",
                           seconds=time.perf_counter() - start, worker=self.name)
        return Outcome(images=images, seconds=time.perf_counter() - start, score=score_from_outputs(outputs),
                       worker=self.name)


class LocalExecutor:
    name = "local"

    def __init__(self, boot: Callable[[], None], workflow: dict, workflow_name: str, options: dict,
                 say: Callable[[str], None] = print):
        self.boot, self.workflow, self.workflow_name, self.options, self.say = boot, workflow, workflow_name, options, say

    def run(self, jobs: List[Job], sink) -> None:

        self.boot()
        try:
            worker = ComfyWorker(self.workflow, self.workflow_name, self.options, self.say)
        except RunnerError as exc:  # the workflow itself cannot run: every row says why
            for job in jobs:
                sink.done(job, Outcome(error=str(exc), worker=self.name))
            return
        try:
            for job in jobs:
                if sink.stopping():
                    break
                sink.started(job)
                worker.on_progress = lambda value, total, job=job: sink.progress(job, value, total)
                sink.done(job, worker.run(job))
        finally:
            worker.remove_staged()
