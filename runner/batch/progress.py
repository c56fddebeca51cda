"""One progress line (overall count, ETA, the current image's sampler steps) on a terminal; one line per
finished row otherwise (logs, CI). The summary at the end."""
from __future__ import annotations

import sys
import time
from typing import List, Optional


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    def __init__(self, total: int, stream=None):
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total, self.finished, self.failed = total, 0, 0
        self.start = time.monotonic()
        self.current: dict = {}   # output name -> "step i/n" of the images running now
        self._last_draw = 0.0

    def eta(self) -> Optional[float]:
        if not self.finished:
            return None
        return (time.monotonic() - self.start) / self.finished * (self.total - self.finished)

    def line(self) -> str:
        eta = self.eta()
        running = ", ".join(f"{name} {step}" for name, step in list(self.current.items())[:3])
        pct = 100 * self.finished // max(self.total, 1)
        return (f"[{self.finished}/{self.total}] {pct:3d}%  ETA {_clock(eta) if eta is not None else '?'}"
                + (f"  failed {self.failed}" if self.failed else "") + (f"  | {running}" if running else ""))

    def _draw(self, force: bool = False) -> None:
        if not self.tty:
            return
        now = time.monotonic()
        if force or now - self._last_draw > 0.2:
            self._last_draw = now
            self.stream.write("\r\033[K" + self.line()[:200])
            self.stream.flush()

    def started(self, name: str) -> None:
        self.current[name] = "…"
        self._draw(force=True)

    def step(self, name: str, value: int, total: int) -> None:
        self.current[name] = f"step {value}/{total}"
        self._draw()

    def done(self, name: str, ok: bool, message: str = "") -> None:
        self.current.pop(name, None)
        self.finished += 1
        self.failed += 0 if ok else 1
        if self.tty:
            if not ok:
                self.stream.write("\r\033[K" + f"failed {name}: {message}\n")
            self._draw(force=True)
        else:
            eta = self.eta()
            self.stream.write(f"[{self.finished}/{self.total}] {'ok' if ok else 'FAILED'} {name}"
                              + (f": {message}" if message else "")
                              + (f"  (ETA {_clock(eta)})" if eta is not None and self.finished < self.total else "")
                              + "\n")
        self.stream.flush()

    def say(self, text: str) -> None:
        self.stream.write(("\r\033[K" if self.tty else "") + text + "\n")
        self._draw(force=True)

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def summary(ok: int, failed: List[tuple], skipped: int, left: int, seconds: float, out: str) -> str:
    """failed: (line, row, error) of every row that failed this time."""
    per_image = f", {seconds / ok:.2f} s per image" if ok else ""
    lines = [f"batch: {ok} made, {len(failed)} failed, {skipped} already done, {left} not run "
             f"({seconds:.1f} s{per_image}); images and results.jsonl in {out}"]
    for line, row, error in failed[:20]:
        lines.append(f"  line {line} ({row}): {error}")
    if len(failed) > 20:
        lines.append(f"  … and {len(failed) - 20} more (see results.jsonl)")
    if left:
        lines.append("  run the same command again to continue: rows already made are skipped")
    return "\n".join(lines)
