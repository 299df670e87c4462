"""Every bound on aipair's network clients, in one place, and the few functions that enforce them.

A registry or a Kestra server may be hostile or broken: it may answer slowly for ever, send an
endless body, loop its pages, or link elsewhere. Each operation is therefore bounded in time
(connect, silence between reads, and a total deadline a trickling answer cannot reset), in bytes
per answer (read as a stream and cut off, never read whole first), in pages and in items. A bound
exceeded is an error naming the server and the bound, never a hang or gigabytes of memory.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import ssl
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from ..errors import AipairError

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class Bounds:
    """The bounds of one client; tests pass smaller ones (``dataclasses.replace``)."""

    connect: float  # seconds to open a connection (TCP and TLS)
    read: float  # seconds of silence tolerated between two reads of one answer
    deadline: float  # seconds for one whole operation: every page, retry, redirect and token request of it
    max_bytes: int  # bytes of one answer's body, after decompression
    max_pages: int  # pages of one paginated listing
    max_tags: int  # tags of one repository, over all its pages
    max_redirects: int  # redirects followed for one request
    max_retry_after: float  # the longest `Retry-After` wait honoured, in seconds
    max_page_size: int  # items asked for per page (`size=`, `n=`)

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.read, connect=self.connect)


REGISTRY = Bounds(
    # a registry is across the internet: 10 s covers a slow TLS handshake, anything longer is down
    connect=10.0,
    # registries answer a tags page in well under a second; 20 s of silence is a hung connection
    read=20.0,
    # one repository's tags (all pages, 3 retries with Retry-After, a token) fit in 2 minutes even on a
    # throttled Docker Hub; `upgrade check` runs repositories concurrently, so this is also its order of magnitude
    deadline=120.0,
    # the largest honest tag lists (library/node, ~25k tags) are about 1 MiB of JSON in one answer
    # (registries that ignore `n=`); 16 MiB leaves room and still keeps memory small
    max_bytes=16 * MIB,
    # 100k tags at the 1000 we ask per page is 100 pages; some registries cap `n` lower (Quay: 100 → 1000)
    max_pages=1000,
    # ten times the largest repository we know; a decision over more tags is not worth the memory
    max_tags=250_000,
    # registries redirect to a mirror or CDN at most once or twice
    max_redirects=5,
    # Docker Hub asks for seconds; a longer wait would make `upgrade check` look hung
    max_retry_after=30.0,
    max_page_size=1000,
)

KESTRA = Bounds(
    # Kestra is the operator's own server, usually near: a connection takes milliseconds
    connect=10.0,
    # `--timeout` (30 s by default) replaces this per command: a flows POST validates every flow server-side
    read=30.0,
    # one request, whatever it trickles: 5 minutes covers registering hundreds of flows on a busy server
    deadline=300.0,
    # the logs of one execution are the largest answer: 64 MiB is about 500k log lines
    max_bytes=64 * MIB,
    max_pages=1,  # the client reads no paginated listing beyond its first page
    max_tags=0,  # (not a registry)
    # the REST API never redirects; a redirect means a wrong --server (and must not take our credentials along)
    max_redirects=0,
    max_retry_after=0.0,
    # executions search: the client asks for the latest few, never more than this
    max_page_size=100,
)


SMOKE = Bounds(
    # a candidate on the engine's own network: it answers in milliseconds or not at all
    connect=5.0,
    read=10.0,
    # one smoke request, whatever the (untrusted) candidate trickles
    deadline=30.0,
    # a smoke test looks for a status and a phrase; a page of 1 MiB is more than any health answer
    max_bytes=1 * MIB,
    max_pages=1,
    max_tags=0,
    # a candidate's redirect is not followed: the smoke test is about the candidate itself
    max_redirects=0,
    max_retry_after=0.0,
    max_page_size=0,
)


class BoundExceeded(AipairError):
    """An answer larger than its bound; the engines prefix the server's name."""


@dataclass(frozen=True)
class Answer:
    """A response read within the bounds: status, headers, the final URL and the (capped) body."""

    status_code: int
    reason_phrase: str
    headers: httpx.Headers
    url: httpx.URL
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not JSON."""
        return json.loads(self.content)


def _check_length(response: httpx.Response, limit: int) -> None:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BoundExceeded(f"answered {int(declared) // KIB} KiB, more than {limit // KIB} KiB (engines/limits.py)")


def _answer(response: httpx.Response, content: bytes) -> Answer:
    return Answer(response.status_code, response.reason_phrase, response.headers, response.url, content)


def _too_large(limit: int) -> BoundExceeded:
    return BoundExceeded(f"answered more than {limit // KIB} KiB (the bound in engines/limits.py); cut off")


async def read_async(response: httpx.Response, limit: int) -> Answer:
    """The body of a streamed response, refused past ``limit`` bytes (decompressed: a gzip bomb stops too)."""
    _check_length(response, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return _answer(response, b"".join(chunks))


def read_sync(response: httpx.Response, limit: int) -> Answer:
    """As read_async, for the synchronous client."""
    _check_length(response, limit)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return _answer(response, b"".join(chunks))


# --- a total deadline for the synchronous client ---------------------------------------------------
# httpx's timeouts apply to each socket read, so a server sending a byte every few seconds is never
# timed out. The async client wraps each operation in asyncio.timeout; the sync one has no such thing,
# so its network streams shorten every read to the time left before the deadline of the current call.

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("aipair_http_deadline", default=None)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Every read and write of the synchronous client inside this block ends by ``seconds`` from now."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def past_deadline() -> bool:
    end = _deadline.get()
    return end is not None and time.monotonic() >= end


def _shortened(timeout: float | None) -> float | None:
    end = _deadline.get()
    if end is None:
        return timeout
    left = max(end - time.monotonic(), 0.0)
    if left <= 0:
        raise httpcore.ReadTimeout("the deadline of this request has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _shortened(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _shortened(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _shortened(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.SyncBackend):
    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = super().connect_tcp(host, port, _shortened(timeout), local_address, socket_options)
        return _DeadlineStream(stream)


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's own transport whose connections honour ``deadline()``. (httpx takes no network backend,
    so its connection pool is replaced by an identical one with ours.)"""

    def __init__(self) -> None:
        super().__init__()
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(), network_backend=_DeadlineBackend())


def get_once(url: str, bounds: Bounds) -> Answer:
    """One GET within ``bounds``: no redirect followed, no credentials, no proxy from the environment.

    For addresses aipair chose itself (a candidate's container); httpx errors and BoundExceeded propagate."""
    with (
        httpx.Client(
            timeout=bounds.timeout(), follow_redirects=False, trust_env=False, transport=DeadlineTransport()
        ) as client,
        deadline(bounds.deadline),
        client.stream("GET", url) as response,
    ):
        return read_sync(response, bounds.max_bytes)


@dataclass(frozen=True)
class ImageBounds:
    """The bounds of reading one image from a registry (engines/image_inspect.py); tests pass smaller ones."""

    deadline: float  # seconds for one whole image: index, manifest, config and every layer
    max_manifest_bytes: int  # bytes of one index or manifest document
    max_config_bytes: int  # bytes of the config blob
    max_layers: int  # layers of one image
    max_layer_bytes: int  # compressed bytes of one layer, as the manifest declares and as sent
    max_image_bytes: int  # compressed bytes of all the layers of one image
    max_unpacked_bytes: int  # bytes of the tar streams once decompressed (a zstd or gzip bomb stops here)
    max_entries: int  # tar entries over all the layers of one image (each one kept in the filesystem index)
    max_header_bytes: int  # one GNU long name or PAX extended header


GIB = 1024 * MIB

IMAGE = ImageBounds(
    # a 5 GiB image at a modest 50 MB/s takes under 2 minutes; 15 minutes allows a slow link, and a registry
    # trickling bytes cannot hold `catalog verify --images` longer than this per image
    deadline=900.0,
    # distribution itself refuses manifests over 4 MiB (its default max manifest body size)
    max_manifest_bytes=4 * MIB,
    # a config is the image's settings plus its history, a few KiB to some hundreds; 8 MiB is far past honest
    max_config_bytes=8 * MIB,
    # overlayfs mounts at most 128 lower layers (Docker refuses more), so no runnable image has more
    max_layers=128,
    # the largest images we know (CUDA, ML frameworks) have single layers of a few GiB compressed
    max_layer_bytes=8 * GIB,
    # twice the largest honest image we know; a pull of more would fill most hosts' disks anyway
    max_image_bytes=20 * GIB,
    # layers compress 2-5x; 100 GiB of tar stops a decompression bomb long before the deadline is needed
    max_unpacked_bytes=100 * GIB,
    # a full distribution image (e.g. ubuntu with build tools) has ~100k paths; each costs ~200 bytes of index
    max_entries=2_000_000,
    # PATH_MAX is 4096; PAX headers of honest images carry a path, a link and a few times: 1 MiB is plenty
    max_header_bytes=1 * MIB,
)
