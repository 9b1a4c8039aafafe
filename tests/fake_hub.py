"""A local stand-in for huggingface.co and its file storage, on 127.0.0.1.

It answers what ``huggingface_hub`` (2.x, ``file_download.py``) asks of the real Hub:

* ``HEAD /{repo}/resolve/{revision}/{filename}`` on the *Hub* server: for a large (LFS)
  file, ``302`` to the *storage* server with ``X-Repo-Commit``, ``X-Linked-Etag`` (the
  sha256 the cache names the blob after) and ``X-Linked-Size``; the client stops at a
  redirect to another origin and reads the metadata from it, as with the real CDN.
  With ``redirect=False`` the Hub answers ``200`` itself (``ETag`` and ``Content-Length``),
  as for small non-LFS files.
* ``GET`` of the storage URL with ``Range: bytes=N-`` support (``206`` + ``Content-Range``),
  which the client uses to resume after a dropped connection.
* ``404`` with ``X-Error-Code: RepoNotFound`` / ``EntryNotFound`` for unknown repos/files.

Faults for tests: :meth:`FakeHub.cut_downloads` closes the connection after some body bytes
of the next GETs of a file; ``delay_s`` sleeps between 16 KiB body pieces (a slow network).
Every request is logged in ``requests`` so tests can count downloads. (huggingface_hub also
asks ``GET /api/agent-harnesses`` once, best effort; it gets a 404.)
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"
_PIECE = 16 * 1024
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")
_BLOB = re.compile(r"^/blobs/(?P<sha>[0-9a-f]{64})$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


@dataclass(frozen=True)
class Request:
    server: str  # "hub" or "storage"
    method: str
    path: str
    range: str | None


class FakeHub:
    """Two threads serving the Hub and its storage; use as a context manager."""

    def __init__(self, *, redirect: bool = True) -> None:
        self.redirect = redirect
        self.files: dict[tuple[str, str], bytes] = {}
        self.requests: list[Request] = []
        self._drop_after = 0
        self._drops_left = 0
        self.delay_s: float = 0.0
        self._lock = threading.Lock()
        self._servers: list[ThreadingHTTPServer] = []

    # ----------------------------------------------------------------- set-up
    def add(self, repo_id: str, filename: str, data: bytes) -> str:
        """Serve ``data`` as ``filename`` of ``repo_id``; returns its sha256 (the etag)."""
        self.files[(repo_id, filename)] = data
        return hashlib.sha256(data).hexdigest()

    @property
    def url(self) -> str:
        """The Hub endpoint (what ``HF_ENDPOINT`` should be)."""
        return self._base(0)

    @property
    def storage_url(self) -> str:
        return self._base(1)

    def _base(self, index: int) -> str:
        host, port = self._servers[index].server_address[:2]
        return f"http://{host}:{port}"

    def cut_downloads(self, after_bytes: int, times: int = 1) -> None:
        """Make the next ``times`` file GETs fail after ``after_bytes`` bytes of body."""
        with self._lock:
            self._drop_after, self._drops_left = after_bytes, times

    def gets(self, server: str = "storage") -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method == "GET" and r.server == server]

    def __enter__(self) -> FakeHub:
        for name in ("hub", "storage"):
            server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, name))
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
            self._servers.append(server)
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    # --------------------------------------------------------------- serving
    def _log(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _take_drop(self) -> int | None:
        with self._lock:
            if self._drops_left <= 0:
                return None
            self._drops_left -= 1
            return self._drop_after

    def _blob(self, sha: str) -> tuple[str, bytes] | None:
        for (_, filename), data in self.files.items():
            if hashlib.sha256(data).hexdigest() == sha:
                return filename, data
        return None


def _handler(hub: FakeHub, server: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _serve(self, *, body: bool) -> None:
            hub._log(Request(server, self.command, self.path, self.headers.get("Range")))
            if server == "hub":
                self._resolve(body)
            else:
                match = _BLOB.match(self.path)
                found = hub._blob(match["sha"]) if match else None
                if found is None:
                    self._empty(404)
                else:  # storage names the file, as the real one does (the bar shows it)
                    name, data = found
                    disposition = f"inline; filename*=UTF-8''{name}; filename=\"{name}\";"
                    self._content(data, body, {"Content-Disposition": disposition})

        def _resolve(self, body: bool) -> None:
            match = _RESOLVE.match(self.path)
            if match is None:
                self._empty(404)
                return
            repo, filename = match["repo"], match["file"]
            if not any(r == repo for r, _ in hub.files):
                self._empty(404, {"X-Error-Code": "RepoNotFound"})
                return
            data = hub.files.get((repo, filename))
            if data is None:
                self._empty(404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT})
                return
            sha = hashlib.sha256(data).hexdigest()
            if hub.redirect:
                self._empty(
                    302,
                    {
                        "Location": f"{hub.storage_url}/blobs/{sha}",
                        "X-Repo-Commit": COMMIT,
                        "X-Linked-Etag": f'"{sha}"',
                        "X-Linked-Size": str(len(data)),
                        "ETag": '"pointer-etag"',
                    },
                )
            else:
                self._content(data, body, {"X-Repo-Commit": COMMIT})

        def _empty(self, status: int, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _content(self, data: bytes, body: bool, extra: dict[str, str] | None = None) -> None:
            start = 0
            wanted = self.headers.get("Range")
            match = _RANGE.match(wanted) if wanted else None
            if match:
                start = int(match[1])
                if start >= len(data):
                    self._empty(416, {"Content-Range": f"bytes */{len(data)}"})
                    return
            part = data[start:]
            self.send_response(206 if match else 200)
            self.send_header("Content-Length", str(len(part)))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            if match:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if not body:
                return
            drop = hub._take_drop()
            limit = len(part) if drop is None else min(drop, len(part))
            sent = 0
            try:
                while sent < limit:
                    piece = part[sent : min(sent + _PIECE, limit)]
                    self.wfile.write(piece)
                    self.wfile.flush()
                    sent += len(piece)
                    if hub.delay_s:
                        time.sleep(hub.delay_s)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
                return
            if drop is not None:  # the network fails mid-file: cut the connection
                self.close_connection = True
                self.connection.shutdown(2)

    return Handler
