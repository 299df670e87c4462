"""Real HTTP servers on 127.0.0.1 that misbehave on purpose: what a hostile or broken registry or
Kestra server does (page loops, trickling bodies, endless tag lists, links and redirects to other
hosts). Each request is recorded with its headers, so a test can assert where credentials went."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]


Route = Callable[["Reply", "Seen"], None]


class Reply:
    """What a route writes with: whole JSON answers, or raw streamed bytes for the hostile cases."""

    def __init__(self, handler: http.server.BaseHTTPRequestHandler, stop: threading.Event) -> None:
        self.handler = handler
        self.stop = stop

    def json(self, status: int, body: Any = None, **headers: str) -> None:
        data = json.dumps(body if body is not None else {}).encode()
        self.handler.send_response(status)
        for key, value in headers.items():
            self.handler.send_header(key.replace("_", "-"), value)
        self.handler.send_header("Content-Type", "application/json")
        self.handler.send_header("Content-Length", str(len(data)))
        self.handler.end_headers()
        if self.handler.command != "HEAD":
            self.handler.wfile.write(data)

    def stream(self, status: int, chunks: Iterator[bytes], *, delay: float = 0.0, **headers: str) -> None:
        """A body of unknown length (no Content-Length, the connection closes at its end), written lazily,
        so a test can send gigabytes without holding them; stops when the client hangs up."""
        self.handler.send_response(status)
        for key, value in headers.items():
            self.handler.send_header(key.replace("_", "-"), value)
        self.handler.send_header("Content-Type", "application/json")
        self.handler.send_header("Connection", "close")
        self.handler.end_headers()
        try:
            for chunk in chunks:
                if self.stop.is_set():
                    return
                self.handler.wfile.write(chunk)
                self.handler.wfile.flush()
                if delay:
                    time.sleep(delay)
        except OSError:
            return  # the client gave up: what the test wants
        finally:
            self.handler.close_connection = True

    def trickle_headers(self, delay: float) -> None:
        """The status line and headers one byte at a time, never finishing: a read timeout alone never fires."""
        try:
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000_000:
                if self.stop.is_set():
                    return
                self.handler.wfile.write(bytes([byte]))
                self.handler.wfile.flush()
                time.sleep(delay)
        except OSError:
            return
        finally:
            self.handler.close_connection = True


@dataclass
class HostileServer:
    """A threaded HTTP server on 127.0.0.1 whose every request goes to ``route``."""

    route: Route
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self
        self.stop = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def _any(self) -> None:
                seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
                server.seen.append(seen)
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                server.route(Reply(self, server.stop), seen)

            do_GET = do_HEAD = do_POST = do_DELETE = _any

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def authorizations(self) -> list[str]:
        """Every Authorization header this server received."""
        return [s.headers["authorization"] for s in self.seen if "authorization" in s.headers]

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def endless_tags(start: int = 0) -> Iterator[bytes]:
    """A tags/list body that never ends: `{"name":"x","tags":["1.0.0","1.0.1",...` for ever, made lazily."""
    yield b'{"name":"x","tags":["0.0.0"'
    n = start
    while True:
        yield "".join(f',"1.{n}.{i}"' for i in range(1000)).encode()
        n += 1
