"""Headless Chromium driven over the Chrome DevTools Protocol, with nothing but the standard library:
a small RFC 6455 websocket client (text frames, fragmentation, ping/pong, large messages) and a synchronous
CDP session that records console messages and uncaught exceptions while it waits for command replies."""
from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--no-default-browser-check", "--mute-audio",
                  "--hide-scrollbars", "--force-device-scale-factor=1")


def find_chromium() -> str | None:
    env = os.environ.get("CHROMIUM")
    if env:
        return env if os.path.isfile(env) and os.access(env, os.X_OK) else None
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class WebSocket:
    """Client side of RFC 6455, enough for the DevTools endpoint (ws://, no extensions)."""

    def __init__(self, url: str, timeout: float = 10.0):
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        path = u.path + (f"?{u.query}" if u.query else "")
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("websocket handshake: connection closed")
            head += chunk
        head, self._buf = head.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"websocket handshake failed: {head[:200]!r}")

    def _read(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self._buf)))
            if not chunk:
                raise ConnectionError("websocket closed")
            self._buf += chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        head = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else _mask_fast(payload, mask)
        self.sock.sendall(head + mask + masked)

    def send(self, text: str) -> None:
        self._send_frame(0x1, text.encode())

    def recv(self, timeout: float | None) -> str | None:
        """One text message, or None when nothing arrived within ``timeout`` seconds."""
        self.sock.settimeout(timeout)
        parts = []
        while True:
            try:
                b0, b1 = self._read(2)
            except socket.timeout:
                if parts:
                    raise
                return None
            self.sock.settimeout(30)  # a started frame is read to its end
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = _mask_fast(payload, mask)
            if opcode == 0x9:  # ping
                self._send_frame(0xA, payload)
            elif opcode == 0x8:
                raise ConnectionError("websocket closed by the browser")
            elif opcode in (0x0, 0x1, 0x2):
                parts.append(payload)
                if b0 & 0x80:
                    return b"".join(parts).decode()
            self.sock.settimeout(timeout)

    def close(self) -> None:
        try:
            self._send_frame(0x8, b"")
        except OSError:
            pass
        self.sock.close()


def _mask_fast(data: bytes, mask: bytes) -> bytes:
    n = len(data)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(data, "big") ^ key).to_bytes(n, "big")


class CDPError(RuntimeError):
    pass


class JSError(AssertionError):
    """An exception thrown by page JavaScript evaluated through :meth:`Page.js`."""


class Page:
    """One page target. ``console`` collects ``(level, text, url, stack)`` of console calls and log entries
    (``url``: where the call is; ``stack``: the script URLs of every frame of its stack, outermost last);
    ``exceptions`` collects uncaught exceptions ``(text, url)``."""

    def __init__(self, ws_url: str):
        self.ws = WebSocket(ws_url)
        self._id = 0
        self.console: list = []
        self.exceptions: list = []
        self.responses: list = []  # (url, HTTP status) of every response, with Network enabled
        self.failed: list = []     # (url, error text) of requests that failed, with Network enabled
        self.events: list = []
        self._requests: dict = {}

    def _handle(self, msg: dict) -> None:
        method, p = msg.get("method"), msg.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", a.get("type")))) for a in p.get("args", []))
            frames = (p.get("stackTrace") or {}).get("callFrames") or [{}]
            self.console.append((p.get("type"), text, frames[0].get("url", ""),
                                 tuple(f.get("url", "") for f in frames)))
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            text = (d.get("exception") or {}).get("description") or d.get("text", "")
            self.exceptions.append((text, d.get("url", "")))
        elif method == "Log.entryAdded":
            e = p.get("entry", {})
            frames = (e.get("stackTrace") or {}).get("callFrames") or []
            self.console.append((e.get("level"), e.get("text", ""), e.get("url", ""),
                                 (e.get("url", ""),) + tuple(f.get("url", "") for f in frames)))
        elif method == "Network.requestWillBeSent":
            self._requests[p.get("requestId")] = p.get("request", {}).get("url", "")
        elif method == "Network.responseReceived":
            r = p.get("response", {})
            self.responses.append((r.get("url", ""), r.get("status")))
        elif method == "Network.loadingFailed":
            self.failed.append((self._requests.get(p.get("requestId"), "?"), p.get("errorText", "")))
        elif method:
            self.events.append((method, p))
            del self.events[:-200]

    def send(self, method: str, wait: float = 30.0, **params):
        self._id += 1
        my_id = self._id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"CDP {method}: no reply in {wait} s")
            raw = self.ws.recv(left)
            if raw is None:
                continue
            msg = json.loads(raw)
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise CDPError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._handle(msg)

    def pump(self, seconds: float) -> None:
        """Process incoming events for ``seconds``."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            raw = self.ws.recv(left)
            if raw is not None:
                self._handle(json.loads(raw))

    def js(self, expression: str, timeout: float = 30.0):
        """Evaluate ``expression`` (awaiting a promise) and return its JSON value; page exceptions raise."""
        r = self.send("Runtime.evaluate", wait=timeout + 5, expression=expression, awaitPromise=True,
                      returnByValue=True, timeout=int(timeout * 1000))
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise JSError((d.get("exception") or {}).get("description") or d.get("text"))
        return r.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30.0, interval: float = 0.2, what: str = ""):
        """Poll a JS expression until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            self.pump(interval)
        raise TimeoutError(f"timed out after {timeout} s waiting for {what or expression} (last value {value!r})")

    def screenshot(self, path: Path, clip: dict | None = None) -> Path:
        params = {"format": "png", "captureBeyondViewport": False}
        if clip:
            params["clip"] = {**clip, "scale": 1}
        data = self.send("Page.captureScreenshot", wait=60, **params)["data"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        self.ws.close()


class Chromium:
    """A headless Chromium with a fresh profile, listening for DevTools on a free loopback port."""

    def __init__(self, binary: str, width: int = 1600, height: int = 1000):
        self.binary = binary
        self.profile = tempfile.mkdtemp(prefix="iid-chromium-")
        self.size = (width, height)
        self.proc: subprocess.Popen | None = None
        self.port = None

    def start(self, timeout: float = 30.0) -> None:
        cmd = [self.binary, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-port=0",
               "--remote-debugging-address=127.0.0.1", f"--window-size={self.size[0]},{self.size[1]}",
               "about:blank"]
        self.log_path = Path(self.profile) / "chromium.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}: {self.log_path.read_text()[-3000:]}")
            if port_file.exists() and port_file.read_text().strip():
                self.port = int(port_file.read_text().split()[0])
                return
            time.sleep(0.1)
        raise RuntimeError(f"chromium did not open DevTools in {timeout} s: {self.log_path.read_text()[-3000:]}")

    def new_page(self) -> Page:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(req, timeout=10) as r:
            target = json.loads(r.read())
        page = Page(target["webSocketDebuggerUrl"])
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.send(f"{domain}.enable")
        page.send("Emulation.setDeviceMetricsOverride", width=self.size[0], height=self.size[1],
                  deviceScaleFactor=1, mobile=False)
        return page

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
