"""A loopback HTTP server for the demo and the tests: routes that can be changed between checks.

Each route is a `Reply`; ETag and Last-Modified are honoured for conditional
requests, every request is logged, and a reply can be delayed or cut short to
imitate a slow or broken server.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0  # seconds before answering
    truncate_to: int | None = None  # send only this many body bytes, announce the full length


@dataclass
class Hit:
    path: str
    headers: dict[str, str]


HOST = "127.0.0.1"  # the fixtures are served to this machine only


class FixtureServer:
    def __init__(self) -> None:
        self.routes: dict[str, Reply] = {}
        self.any_query: set[str] = set()  # routes that answer whatever query string follows their path
        self.hits: list[Hit] = []
        self._server = ThreadingHTTPServer((HOST, 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self._server.server_port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def set(self, path: str, body: bytes | str = b"", ignore_query: bool = False, **options) -> Reply:
        """Route `path`; with `ignore_query`, requests for `path?anything` get this reply too."""
        reply = Reply(body=body.encode() if isinstance(body, str) else body, **options)
        self.routes[path] = reply
        if ignore_query:
            self.any_query.add(path)
        else:
            self.any_query.discard(path)
        return reply

    def route(self, path: str) -> Reply | None:
        """The reply for a request path: an exact match first, then a route that ignores the query."""
        reply = self.routes.get(path)
        bare = path.partition("?")[0]
        if reply is None and bare in self.any_query:
            reply = self.routes.get(bare)
        return reply

    def hits_for(self, path: str, ignore_query: bool = False) -> list[Hit]:
        if ignore_query:
            return [hit for hit in self.hits if hit.path.partition("?")[0] == path]
        return [hit for hit in self.hits if hit.path == path]

    def start(self) -> FixtureServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits.append(Hit(self.path, dict(self.headers.items())))
                reply = server.route(self.path)
                if reply is None:
                    self._send(Reply(b"not found", status=404, content_type="text/plain"))
                    return
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.status == 200 and self._not_modified(reply):
                    self.send_response(304)
                    self.end_headers()
                    return
                self._send(reply)

            def _not_modified(self, reply: Reply) -> bool:
                if reply.etag and self.headers.get("If-None-Match") == reply.etag:
                    return True
                return bool(reply.last_modified) and self.headers.get("If-Modified-Since") == reply.last_modified

            def _send(self, reply: Reply) -> None:
                try:
                    self._write(reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up: a timeout or a size cap under test

            def _write(self, reply: Reply) -> None:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                if reply.etag:
                    self.send_header("ETag", reply.etag)
                if reply.last_modified:
                    self.send_header("Last-Modified", reply.last_modified)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                body = reply.body if reply.truncate_to is None else reply.body[: reply.truncate_to]
                self.wfile.write(body)
                self.wfile.flush()
                if reply.truncate_to is not None:
                    self.close_connection = True

            def log_message(self, *args):  # keep test output quiet
                pass

        return Handler
