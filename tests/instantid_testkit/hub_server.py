"""A stand-in for the Hugging Face Hub, for tests: serves files at ``/<org>/<repo>/resolve/<revision>/<path>`` the
way huggingface_hub expects them, on 127.0.0.1 only, and misbehaves on request.

What huggingface_hub reads (checked against its source): on ``HEAD`` the headers ``X-Repo-Commit``, ``ETag`` /
``X-Linked-Etag`` (the sha256 of an LFS file), ``X-Linked-Size`` / ``Content-Length``; no ``X-Xet-*`` headers, so
it never takes the Xet path; errors carry ``X-Error-Code`` (RepoNotFound, RevisionNotFound, EntryNotFound). ``GET``
honours ``Range: bytes=N-`` with ``206`` and ``Content-Range``. With ``redirect=True`` the resolve URL answers ``302``
to ``/cdn/<sha256>`` as the real hub does for LFS files.

Faults, each for the next GET(s) of one file: ``cut_next`` sends only the first N bytes of the body and closes the
connection; ``fail_next`` answers an HTTP error. ``HubFile.served`` makes GET send other bytes than the ones the
hub reports (a checksum failure). Every request is recorded in ``requests``. The server stops on ``stop()`` or
when the ``with`` block ends, and in any case after ``lifetime`` seconds.
"""
from __future__ import annotations

import hashlib
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional, Tuple



@dataclass
class HubFile:
    content: bytes                  # the file as the hub describes it (size, sha256 etag)
    served: Optional[bytes] = None  # what GET sends instead, when set

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def body(self) -> bytes:
        return self.content if self.served is None else self.served


@dataclass
class Recorded:
    method: str
    path: str
    headers: Dict[str, str]  # names lower-cased

    def header(self, name: str) -> Optional[str]:
        return self.headers.get(name.lower())


@dataclass
class _Fault:
    cut_after: Optional[int] = None
    status: Optional[int] = None


@dataclass
class _Repo:
    commit: str
    files: Dict[str, HubFile] = field(default_factory=dict)


class HubServer:
    def __init__(self, *, token: Optional[str] = None, redirect: bool = False, lifetime: float = 300.0,
                 pace: float = 0.0):
        self.token = token
        self.pace = pace  # seconds of sleep after every 64 KiB of a body: slow downloads that overlap
        self.redirect = redirect
        self.lifetime = lifetime
        self.repos: Dict[str, _Repo] = {}
        self.requests: List[Recorded] = []
        self._faults: Dict[Tuple[str, str], List[_Fault]] = {}
        self._lock = threading.Lock()
        self._httpd: Optional[ThreadingHTTPServer] = None
        self._timer: Optional[threading.Timer] = None
        self._connections: set = set()  # open client sockets: stop() closes kept-alive ones too

    # --- content -----------------------------------------------------------------------------------------------
    def add(self, repo_id: str, path: str, content: bytes, *, commit: str, served: Optional[bytes] = None) -> HubFile:
        repo = self.repos.setdefault(repo_id, _Repo(commit))
        assert repo.commit == commit, "one commit per repo"
        repo.files[path] = HubFile(content, served)
        return repo.files[path]

    def cut_next(self, repo_id: str, path: str, after: int, times: int = 1) -> None:
        self._faults.setdefault((repo_id, path), []).extend(_Fault(cut_after=after) for _ in range(times))

    def fail_next(self, repo_id: str, path: str, status: int, times: int = 1) -> None:
        self._faults.setdefault((repo_id, path), []).extend(_Fault(status=status) for _ in range(times))

    def clear_faults(self) -> None:
        self._faults.clear()

    def gets(self, path_part: str = "") -> List[Recorded]:
        return [r for r in self.requests if r.method == "GET" and path_part in r.path]

    # --- lifecycle ---------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "HubServer":
        handler = type("Handler", (_Handler,), {"hub": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        self._timer = threading.Timer(self.lifetime, self.stop)  # a forgotten server still goes away
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if self._timer is not None:
            self._timer.cancel()
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:  # a client's pooled keep-alive connection must not outlive the server
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> "HubServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- used by the handler -----------------------------------------------------------------------------------
    def _take_fault(self, repo_id: str, path: str) -> Optional[_Fault]:
        with self._lock:
            queue = self._faults.get((repo_id, path))
            return queue.pop(0) if queue else None

    def _by_sha(self, sha: str) -> Optional[Tuple[str, str, HubFile]]:
        for repo_id, repo in self.repos.items():
            for path, f in repo.files.items():
                if f.sha256 == sha:
                    return repo_id, path, f
        return None


class _Handler(BaseHTTPRequestHandler):
    hub: HubServer
    protocol_version = "HTTP/1.1"
    timeout = 30  # a stuck client never holds a server thread for long

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def setup(self) -> None:
        super().setup()
        with self.hub._lock:
            self.hub._connections.add(self.connection)

    def finish(self) -> None:
        with self.hub._lock:
            self.hub._connections.discard(self.connection)
        super().finish()

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        self.hub.requests.append(Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        if self.hub.token is not None and self.headers.get("Authorization") != f"Bearer {self.hub.token}":
            return self._error(401, "", "Invalid credentials in Authorization header")
        cdn = re.fullmatch(r"/cdn/([0-9a-f]{64})", self.path.split("?")[0])
        if cdn:
            found = self.hub._by_sha(cdn.group(1))
            if found is None:
                return self._error(404, "", "no such object")
            repo_id, path, f = found
            return self._send_file(repo_id, path, f, self.hub.repos[repo_id].commit, body)
        m = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", self.path.split("?")[0])
        if not m:
            return self._error(404, "", "not a resolve URL")
        repo_id, revision, path = m.groups()
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            return self._error(401, "RepoNotFound", "Repository not found")
        if revision not in (repo.commit, "main"):
            return self._error(404, "RevisionNotFound", "Invalid rev id")
        f = repo.files.get(path)
        if f is None:
            return self._error(404, "EntryNotFound", "Entry not found")
        if self.hub.redirect:
            self.send_response(302)
            self.send_header("Location", f"{self.hub.url}/cdn/{f.sha256}")
            self._metadata_headers(f, repo.commit)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._send_file(repo_id, path, f, repo.commit, body)

    def _metadata_headers(self, f: HubFile, commit: str) -> None:
        self.send_header("X-Repo-Commit", commit)
        self.send_header("X-Linked-Etag", f'"{f.sha256}"')
        self.send_header("X-Linked-Size", str(len(f.content)))
        self.send_header("ETag", f'"{f.sha256}"')

    def _send_file(self, repo_id: str, path: str, f: HubFile, commit: str, body: bool) -> None:
        data = f.body
        fault = self.hub._take_fault(repo_id, path) if body else None
        if fault is not None and fault.status is not None:
            return self._error(fault.status, "", "injected failure")
        start = 0
        rng = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", "") or "")
        if rng and body:
            start = int(rng.group(1))
        part = data[start:]
        self.send_response(206 if start else 200)
        self._metadata_headers(f, commit)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(part)))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if not body:
            return
        if fault is not None and fault.cut_after is not None:
            self.wfile.write(part[:fault.cut_after])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_WR)  # the client sees the body end early
            return
        if not self.hub.pace:
            self.wfile.write(part)
            return
        for at in range(0, len(part), 1 << 16):
            self.wfile.write(part[at:at + (1 << 16)])
            time.sleep(self.hub.pace)

    def _error(self, status: int, code: str, message: str) -> None:
        payload = f'{{"error": "{message}"}}'.encode()
        self.send_response(status)
        if code:
            self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
