"""The registry client against a Docker Hub-like TEST DOUBLE (in-process: no engine, no real registry).

`aipair upgrade check` against a real OCI registry is in tests/engine/test_upgrade_check.py.
"""

from __future__ import annotations

import json
import time
from typing import Any


class HubLikeRegistryDouble:
    """TEST DOUBLE, named as such: Docker Hub's behaviour that no registry here shows. Debian's
    distribution 2.8 does not paginate tag lists, and Docker Hub itself is unreachable. It pages
    tags with `Link` headers, answers the first request with `429` and `Retry-After`, and wants a
    bearer token from a `WWW-Authenticate: Bearer` challenge, as Docker Hub and GHCR do."""

    def __init__(self, tags: list[str], page: int = 2) -> None:
        import http.server
        import threading
        from urllib.parse import parse_qs, urlparse

        double = self
        self.tags, self.page, self.hits, self.throttled = tags, page, [], False

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def _send(self, code: int, body: dict[str, Any] | None = None, **headers: str) -> None:
                data = json.dumps(body or {}).encode()
                self.send_response(code)
                for key, value in headers.items():
                    self.send_header(key.replace("_", "-"), value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                double.hits.append(self.path)
                if url.path == "/token":
                    query = parse_qs(url.query)
                    assert query["scope"] == ["repository:hub/app:pull"] and query["service"] == ["double"]
                    return self._send(200, {"token": "granted"})
                if self.headers.get("Authorization") != "Bearer granted":
                    realm = f"http://127.0.0.1:{double.port}/token"
                    return self._send(
                        401, WWW_Authenticate=f'Bearer realm="{realm}",service="double",scope="repository:hub/app:pull"'
                    )
                if not double.throttled:
                    double.throttled = True
                    return self._send(429, Retry_After="1")
                query = parse_qs(url.query)
                n = int(query.get("n", ["100"])[0])
                last = query.get("last", [None])[0]
                start = double.tags.index(last) + 1 if last else 0
                chunk = double.tags[start : start + n]
                headers = {}
                if start + n < len(double.tags):
                    headers["Link"] = f'</v2/hub/app/tags/list?last={chunk[-1]}&n={n}>; rel="next"'
                return self._send(200, {"name": "hub/app", "tags": chunk}, **headers)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()


def test_pagination_throttling_and_bearer_tokens_as_docker_hub_does() -> None:
    import asyncio

    from aipair.catalog.images import ImageRef
    from aipair.engines.registry import RegistryClient

    double = HubLikeRegistryDouble([f"1.{i}.0" for i in range(9)])
    try:

        async def read() -> list[str]:
            async with RegistryClient(page_size=2) as client:
                ref = ImageRef.parse(f"127.0.0.1:{double.port}/hub/app:1.0.0")
                first = await client.tags(ref)
                assert await client.tags(ref) == first  # the second answer comes from the short-lived cache
                return first

        started = time.monotonic()
        tags = asyncio.run(read())
        assert tags == [f"1.{i}.0" for i in range(9)]
        assert time.monotonic() - started >= 1.0, "Retry-After was honoured"
        pages = [hit for hit in double.hits if hit.startswith("/v2/")]
        assert sum("last=" in hit for hit in pages) == 4  # 9 tags, 2 per page: 4 follow-up pages
        assert sum(hit.startswith("/token") for hit in double.hits) == 1  # one token for every page
    finally:
        double.server.shutdown()
