"""A batch from rows to results: skip what is done, order by person, hand the rest to one executor, write each
image and its record as it comes back, stop cleanly on Ctrl-C, and say how it went.

Exit status: 0 every row made (now or before), 1 some row failed, 130 stopped by Ctrl-C with rows left."""
from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import List, Optional

from .inputs import batch_fingerprint, by_person, with_inputs
from .manifest import BadRow, Job, Row
from .progress import Progress, summary
from .prompts import Outcome
from .state import OutputFolder, record

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


@dataclass
class Plan:
    jobs: List[Job]        # to run, ordered by person
    bad: List[BadRow]      # cannot run: recorded as errors
    skipped: int           # already made with the same inputs


def plan(rows: List[Row], folder: OutputFolder, workflow_bytes: bytes, options: dict) -> Plan:
    rows = with_inputs(rows, batch_fingerprint(workflow_bytes, options))
    done = folder.done_keys()
    jobs = [r for r in rows if isinstance(r, Job)]
    todo = [j for j in jobs if done.get(j.output) != j.key]
    return Plan(by_person(todo), [r for r in rows if isinstance(r, BadRow)], len(jobs) - len(todo))


class Sink:
    """Where executors report: each finished row is written at once (image, then its record); a row (known by its
    output name, unique in a batch) reported a second time (a job requeued after its first worker died) is ignored."""

    def __init__(self, folder: OutputFolder, progress: Progress):
        self.folder, self.bar = folder, progress
        self.stop = False
        self.made = 0
        self.failed: list = []
        self.finished = set()
        self.lock = threading.Lock()

    def stopping(self) -> bool:
        return self.stop

    def started(self, job: Job) -> None:
        self.bar.started(job.output)

    def progress(self, job: Job, value: int, total: int) -> None:
        self.bar.step(job.output, value, total)

    def done(self, job: Job, outcome: Outcome) -> None:
        with self.lock:
            if job.output in self.finished:
                return
            self.finished.add(job.output)
            if outcome.error is None:
                names = self.folder.output_names(job.output, len(outcome.images))
                try:
                    for name, data in zip(names, outcome.images):
                        self.folder.write_image(name, data)
                except OSError as exc:  # this row's file cannot be written (its name, a full disk): its error
                    why = exc.strerror or str(exc)
                    outcome = replace(outcome, images=[], error=f"the image was made but cannot be written to "
                                                                f"{self.folder.folder / name} ({why})")
            if outcome.error is None:
                self.folder.append(record(job, "ok", names, None, outcome.seconds, outcome.score, outcome.worker))
                self.made += 1
            else:
                self.folder.append(record(job, "error", None, outcome.error, outcome.seconds, None, outcome.worker))
                self.failed.append((job.line, job.row, outcome.error))
            self.bar.done(job.output, outcome.error is None, _first_line(outcome.error))


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def run_batch(rows: List[Row], out: Path, workflow_bytes: bytes, options: dict, executor, stream=None) -> int:
    """``executor.run(jobs, sink)`` makes the images (local.LocalExecutor, servers.ServerExecutor,
    ray_pool.RayExecutor); it is not started when nothing is left to do."""
    start = time.monotonic()
    folder = OutputFolder(out)
    folder.prepare()
    p = plan(rows, folder, workflow_bytes, options)
    progress = Progress(len(p.jobs) + len(p.bad), stream)
    sink = Sink(folder, progress)
    for bad in p.bad:
        folder.append(record(bad, "error", None, bad.error))
        sink.failed.append((bad.line, bad.row, bad.error))
        progress.done(bad.row, False, bad.error)
    interrupted = False
    previous = _install_sigint(sink, progress)
    try:
        if p.jobs:
            executor.run(p.jobs, sink)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        progress.close()
    left = len(p.jobs) - len(sink.finished)
    interrupted = interrupted or (sink.stop and left > 0)
    text = summary(sink.made, [(l, r, _first_line(e)) for l, r, e in sink.failed], p.skipped, left,
                   time.monotonic() - start, str(out))
    print(text, file=progress.stream, flush=True)
    if sink.failed:
        return EXIT_FAILED
    return EXIT_INTERRUPTED if interrupted or left else EXIT_OK


def _install_sigint(sink: Sink, progress: Progress) -> Optional[object]:
    """First Ctrl-C: finish the image(s) in progress, start no other. Second: stop now (nothing half-written
    is left: images are renamed into place whole)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def on_sigint(signum, frame):
        if sink.stop:
            raise KeyboardInterrupt
        sink.stop = True
        progress.say("stopping after the current image (Ctrl-C again to stop at once)")

    return signal.signal(signal.SIGINT, on_sigint)
