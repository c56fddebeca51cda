"""One download per target file at a time, across processes.

A lock file ``<target>.lock`` beside the target, locked with ``fcntl.flock`` (POSIX) or ``msvcrt.locking``
(Windows). The operating system drops either lock when its process ends, however it ends (Ctrl-C, kill -9, a
crash), so a stopped run never leaves a stale lock behind, which an ``O_CREAT|O_EXCL`` lock file would.
A second run waits for the first and then finds the verified target in place.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt


class LockUnavailable(OSError):
    """The lock file cannot be made: the target's folder cannot be written (permissions, a read-only disk)."""


@contextmanager
def target_lock(target: Path, on_wait: Callable[[str], None]) -> Iterator[None]:
    """Hold ``<target>.lock`` for the block; ``on_wait`` hears once that another process holds it. Raises
    LockUnavailable before the block when the lock file cannot be created."""
    path = target.with_name(target.name + ".lock")
    fd = _acquire(path, on_wait)
    try:
        yield
    finally:
        _release(path, fd)


def _acquire(path: Path, on_wait) -> int:
    told = False
    while True:
        try:
            fd = _open(path)
        except OSError as exc:
            raise LockUnavailable(exc.errno, exc.strerror or str(exc), str(path)) from exc
        if not _try_lock(fd):
            if not told:
                on_wait(f"waiting: another download of {path.name[:-len('.lock')]} is running ({path})")
                told = True
            _lock_blocking(fd)
        # The holder before us may have removed the lock file after we opened it: then we hold a lock on a
        # name nobody else sees, and must lock the current file instead.
        try:
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                return fd
        except FileNotFoundError:
            pass
        _unlock_and_close(fd)


def _open(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)


def _release(path: Path, fd: int) -> None:
    try:
        path.unlink()  # while still locked: a waiter that opened the old name notices (see _acquire)
    except OSError:  # Windows cannot delete an open file; the empty lock file stays, harmlessly
        pass
    _unlock_and_close(fd)


def _try_lock(fd: int) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return True
    except OSError:
        return False


def _lock_blocking(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    while not _try_lock(fd):  # msvcrt's own blocking mode gives up after 10 s
        time.sleep(0.5)


def _unlock_and_close(fd: int) -> None:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
        else:
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    except OSError:
        pass
    os.close(fd)
