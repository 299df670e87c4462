"""The OCI distribution API over httpx: tags (paginated) and manifest digests of any v2 registry, and
the image itself for engines/image_inspect.py: the manifest through an index, the config blob, layer blobs
streamed, every document and blob checked against its sha256 digest and bounded by IMAGE (engines/limits.py).

Handles what Docker Hub, GHCR and Quay do: an anonymous bearer token fetched after a
`WWW-Authenticate: Bearer` challenge, basic auth from the Docker config for private registries,
`429 Too Many Requests` with `Retry-After`, pagination through `Link` headers. Operations run
concurrently under a bound, and answers are cached for a short while.

A registry is not trusted: every operation is bounded by engines/limits.py (deadline, bytes, pages,
tags, redirects), and credentials go only to the origin (scheme, host, port) they belong to: the
registry's own for its basic credentials and tokens, an https token realm (or the plain-http
registry's own host) for the token request. A next-page link to another origin is refused; a
redirect elsewhere is followed without credentials. URLs in messages pass through redact_url.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import os
import re
import time
from collections.abc import AsyncGenerator, Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from ..catalog.images import DOCKER_HUB, ImageRef, check_digest
from ..errors import AipairError
from ..redact import redact_url, redact_urls_in
from .image_facts import PLATFORM
from .limits import IMAGE, KIB, MIB, REGISTRY, Answer, BoundExceeded, Bounds, ImageBounds, read_async

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
CHALLENGE_RE = re.compile(r'(\w+)="([^"]*)"')
LINK_RE = re.compile(r"<([^>]+)>;\s*rel=\"?next\"?")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")  # the OCI distribution spec's tag grammar
T = TypeVar("T")
Origin = tuple[str, str, int | None]


INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")


@dataclass(frozen=True)
class Descriptor:
    """A blob or manifest as a manifest names it."""

    media_type: str
    digest: str
    size: int


@dataclass(frozen=True)
class ResolvedManifest:
    """The image manifest for one platform. ``digest`` is the platform manifest's (the top document's when
    ``has_platform`` is False); ``index_digest`` the index's when the reference named one; ``platforms``
    every platform of the index (empty for a single manifest: its platform is in its config)."""

    digest: str
    index_digest: str | None
    platforms: list[str]
    has_platform: bool
    config: Descriptor | None
    layers: list[Descriptor]


class RegistryError(AipairError):
    """Exit code 1 (AipairError's)."""


class RegistryAuthError(RegistryError):
    """Exit code 1 (AipairError's)."""


def base_url(ref: ImageRef) -> str:
    """https, except for loopback registries and those listed in AIPAIR_INSECURE_REGISTRIES."""
    host = ref.registry.split(":")[0]
    insecure = {h.strip() for h in os.environ.get("AIPAIR_INSECURE_REGISTRIES", "").split(",") if h.strip()}
    plain = host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.") or ref.registry in insecure
    return f"{'http' if plain else 'https'}://{ref.registry}"


def docker_credentials(registry: str, config_path: Path | None = None) -> tuple[str, str] | None:
    """Basic credentials for ``registry`` from the Docker config (`docker login` writes them)."""
    path = config_path or Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker")) / "config.json"
    try:
        auths = json.loads(path.read_text()).get("auths", {})
    except (OSError, ValueError):
        return None
    keys = [registry, f"https://{registry}", f"http://{registry}"]
    if registry == DOCKER_HUB:
        keys += ["https://index.docker.io/v1/", "index.docker.io", "docker.io"]
    if not isinstance(auths, dict):
        return None
    for key in keys:
        entry = auths.get(key)
        encoded = entry.get("auth") if isinstance(entry, dict) else None
        if encoded:
            try:
                user, _, password = base64.b64decode(encoded).decode().partition(":")
            except ValueError:
                continue
            return user, password
    return None


def origin(url: str | httpx.URL) -> Origin:
    """Scheme, host and port: what credentials are bound to (as browsers bind cookies and Docker its auth)."""
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.host, parsed.port or {"http": 80, "https": 443}.get(parsed.scheme)


def realm_problem(registry: str, realm: httpx.URL) -> str | None:
    """Why the registry's credentials must not go to ``realm`` (None when they may): as Docker, the token
    realm must be https, unless the registry itself is plain http (loopback or listed as insecure) and the
    realm is on that same host."""
    base = httpx.URL(registry)
    if realm.scheme == "https" and realm.host:
        return None
    if realm.scheme == "http" and base.scheme == "http" and realm.host == base.host:
        return None
    return (
        f"refused the token realm {redact_url(str(realm))}: a realm must be https (or on the plain-http "
        "registry's own host), so that credentials never cross the network in clear"
    )


class RegistryClient:
    """Async client; use as ``async with RegistryClient() as client``. ``limits``: engines/limits.py."""

    def __init__(
        self,
        *,
        concurrency: int = 8,
        cache_seconds: float = 300.0,
        max_retries: int = 3,
        docker_config: Path | None = None,
        page_size: int = 1000,
        limits: Bounds = REGISTRY,
    ) -> None:
        self._limits = limits
        self._page_size = max(1, min(page_size, limits.max_page_size))
        self._semaphore = asyncio.Semaphore(concurrency)
        # redirects are followed by _send, which decides per hop whether credentials go along
        self._client = httpx.AsyncClient(timeout=limits.timeout(), follow_redirects=False)
        self._cache: dict[str, tuple[float, Any]] = {}
        self._tokens: dict[tuple[str, str], str] = {}
        self._cache_seconds = cache_seconds
        self._max_retries = max_retries
        self._docker_config = docker_config
        self.requests = 0  # for benchmarks and tests

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._client.aclose()

    async def tags(self, ref: ImageRef) -> list[str]:
        """Every tag of the repository, following `Link: <…>; rel="next"` pages on the registry itself."""
        key = f"tags {ref.registry}/{ref.path}"
        cached = self._cached(key)
        if cached is not None:
            return list(cached)
        found = await self._bounded(self._all_tags(ref), ref, "listing its tags")
        self._cache[key] = (time.monotonic() + self._cache_seconds, found)
        return list(found)

    async def digest(self, ref: ImageRef, tag: str) -> str:
        """The manifest (or index) digest of ``tag``: what `image@sha256:…` pins."""
        key = f"digest {ref.registry}/{ref.path}:{tag}"
        cached = self._cached(key)
        if cached is not None:
            return str(cached)
        answer = await self._bounded(
            self._request(
                "HEAD", f"{base_url(ref)}/v2/{ref.path}/manifests/{tag}", ref, headers={"Accept": MANIFEST_TYPES}
            ),
            ref,
            f"reading the digest of {tag}",
        )
        digest = answer.headers.get("docker-content-digest")
        if not digest:
            raise RegistryError(f"{ref.registry}/{ref.path}:{tag}: the registry sent no Docker-Content-Digest")
        try:
            check_digest(digest)  # one rule for what may be pinned: the header is written into catalog.yaml
        except ValueError as exc:
            raise RegistryError(
                f"{ref.registry}/{ref.path}:{tag}: the registry sent a Docker-Content-Digest {exc}"
            ) from exc
        self._cache[key] = (time.monotonic() + self._cache_seconds, digest)
        return str(digest)

    async def manifest(
        self, ref: ImageRef, reference: str, platform: str = PLATFORM, *, limits: ImageBounds = IMAGE
    ) -> ResolvedManifest:
        """The image manifest of ``reference`` (a tag or a digest) for ``platform``, through an index.

        Each document's sha256 is checked against the digest it was asked by (a tag: against the
        Docker-Content-Digest the registry sends, when it sends one). An index without ``platform`` is no
        error: ``has_platform`` is False and ``platforms`` says what it offers."""
        return await self._bounded(
            self._resolve(ref, reference, platform, limits), ref, f"reading the manifest of {reference}"
        )

    async def _resolve(self, ref: ImageRef, reference: str, platform: str, limits: ImageBounds) -> ResolvedManifest:
        top, body = await self._manifest_document(ref, reference, limits)
        kind = body.get("mediaType") or ""
        if kind in INDEX_TYPES or ("manifests" in body and "layers" not in body):
            entries = body.get("manifests")
            if not isinstance(entries, list):
                raise RegistryError(f"{ref.registry}/{ref.path}@{top}: the index has no list of manifests")
            platforms: list[str] = []
            chosen: Descriptor | None = None
            for entry in entries:
                named = _platform_of(entry)
                if named is None:
                    continue  # attestations and other non-image entries (platform unknown/unknown)
                if named not in platforms:
                    platforms.append(named)
                if chosen is None and platform_matches(named, platform):
                    chosen = _descriptor(entry, ref, "index entry")
            if chosen is None:
                return ResolvedManifest(top, top, platforms, False, None, [])
            digest, image = await self._manifest_document(ref, chosen.digest, limits)
            if "layers" not in image:
                raise RegistryError(
                    f"{ref.registry}/{ref.path}@{digest}: the {platform} entry of the index is not an image manifest"
                )
            return _image_manifest(ref, digest, top, platforms, image)
        if "layers" not in body:
            raise RegistryError(f"{ref.registry}/{ref.path}@{top}: neither an image index nor an image manifest")
        return _image_manifest(ref, top, None, [], body)

    async def _manifest_document(
        self, ref: ImageRef, reference: str, limits: ImageBounds
    ) -> tuple[str, dict[str, Any]]:
        """One manifest or index, its digest verified; (its digest, its JSON)."""
        answer = await self._request(
            "GET", f"{base_url(ref)}/v2/{ref.path}/manifests/{reference}", ref, headers={"Accept": MANIFEST_TYPES}
        )
        if len(answer.content) > limits.max_manifest_bytes:
            raise RegistryError(
                f"{ref.registry}/{ref.path}:{reference}: the manifest is {len(answer.content) // KIB} KiB, over the "
                f"{limits.max_manifest_bytes // KIB} KiB bound (IMAGE.max_manifest_bytes in engines/limits.py)"
            )
        actual = "sha256:" + hashlib.sha256(answer.content).hexdigest()
        expected = reference if reference.startswith("sha256:") else answer.headers.get("docker-content-digest")
        if expected and expected.startswith("sha256:") and expected != actual:
            raise RegistryError(
                f"{ref.registry}/{ref.path}:{reference}: the manifest's bytes do not match its digest "
                f"{expected} (they hash to {actual}); refused"
            )
        return actual, _json_object(answer, ref)

    async def blob_json(self, ref: ImageRef, digest: str, size: int, *, max_bytes: int) -> dict[str, Any]:
        """A small JSON blob (the image config): at most ``max_bytes``, its digest verified."""

        async def read() -> dict[str, Any]:
            chunks = [chunk async for chunk in self.stream_blob(ref, digest, size, max_bytes=max_bytes, what="config")]
            try:
                body = json.loads(b"".join(chunks))
            except ValueError:
                body = None
            if not isinstance(body, dict):
                raise RegistryError(f"{ref.registry}/{ref.path}: the config blob {digest} is not a JSON object")
            return body

        return await self._bounded(read(), ref, f"reading the config blob {digest}")

    async def stream_blob(
        self, ref: ImageRef, digest: str, size: int, *, max_bytes: int, what: str = "layer"
    ) -> AsyncGenerator[bytes, None]:
        """The bytes of a blob as they arrive, never held whole. Refused before reading when ``size`` (what
        the manifest declares) is over ``max_bytes``; stopped when the registry sends more than ``size``;
        at the end, a length or sha256 that does not match is an error naming the blob. Use it under
        ``contextlib.aclosing`` so that the connection closes when the reader stops early."""
        try:
            check_digest(digest)
        except ValueError as exc:
            raise RegistryError(f"{ref.registry}/{ref.path}: the manifest names a {what} blob {exc}") from None
        if size < 0 or size > max_bytes:
            raise RegistryError(
                f"{ref.registry}/{ref.path}: the {what} blob {digest} is {_mib(size)}, over the {_mib(max_bytes)} "
                f"bound on one {what} (engines/limits.py); not read"
            )
        response = await self._open_checked(f"{base_url(ref)}/v2/{ref.path}/blobs/{digest}", ref)
        try:
            hasher = hashlib.sha256()
            received = 0
            try:
                async for chunk in response.aiter_bytes():
                    received += len(chunk)
                    if received > size:
                        raise RegistryError(
                            f"{ref.registry}/{ref.path}: the {what} blob {digest} is longer than the {size} bytes "
                            "its manifest declares; stopped"
                        )
                    hasher.update(chunk)
                    yield chunk
            except httpx.HTTPError as exc:  # a broken connection, or a Content-Encoding that does not decode
                raise RegistryError(
                    f"{ref.registry}/{ref.path}: reading the {what} blob {digest} failed: "
                    f"{exc.__class__.__name__}: {redact_urls_in(str(exc))}"
                ) from None
            if received != size:
                raise RegistryError(
                    f"{ref.registry}/{ref.path}: the {what} blob {digest} ended after {received} of the {size} bytes "
                    "its manifest declares"
                )
            actual = "sha256:" + hasher.hexdigest()
            if actual != digest:
                raise RegistryError(
                    f"{ref.registry}/{ref.path}: the {what} blob {digest} does not match its digest "
                    f"(its bytes hash to {actual}); refused"
                )
        finally:
            await response.aclose()

    def _cached(self, key: str) -> Any:
        entry = self._cache.get(key)
        return entry[1] if entry and entry[0] > time.monotonic() else None

    async def _bounded(self, work: Awaitable[T], ref: ImageRef, doing: str) -> T:
        """One operation, within the concurrency bound and, once started, within the deadline."""
        async with self._semaphore:
            try:
                async with asyncio.timeout(self._limits.deadline):
                    return await work
            except TimeoutError:
                raise RegistryError(
                    f"{ref.registry}/{ref.path}: {doing} took longer than the {self._limits.deadline:.0f} s deadline "
                    "(engines/limits.py); the registry is too slow, or sends its answer a byte at a time"
                ) from None

    async def _all_tags(self, ref: ImageRef) -> list[str]:
        base = base_url(ref)
        url = f"{base}/v2/{ref.path}/tags/list?n={self._page_size}"
        seen: set[str] = set()
        found: list[str] = []
        for _ in range(self._limits.max_pages):
            seen.add(url)
            answer = await self._request("GET", url, ref)
            body = _json_object(answer, ref)
            tags = body.get("tags") or []
            if not isinstance(tags, list):
                raise RegistryError(f"{ref.registry}/{ref.path}: the registry's tag list is not a list")
            found += [tag for tag in tags if isinstance(tag, str) and TAG_RE.match(tag)]
            if len(found) > self._limits.max_tags:
                raise RegistryError(
                    f"{ref.registry}/{ref.path}: the registry lists more than {self._limits.max_tags} tags "
                    "(the bound in engines/limits.py)"
                )
            match = LINK_RE.search(answer.headers.get("link", ""))
            if not match:
                return found
            following = str(httpx.URL(url).join(match.group(1)))
            if origin(following) != origin(base):
                raise RegistryError(
                    f"{ref.registry}/{ref.path}: the registry's next page is on another host "
                    f"({redact_url(following)}); refused, so that credentials for {ref.registry} stay there"
                )
            if following in seen:
                raise RegistryError(f"{ref.registry}/{ref.path}: the registry's next-page links loop back; stopped")
            url = following
        raise RegistryError(
            f"{ref.registry}/{ref.path}: the registry sent more than {self._limits.max_pages} pages of tags "
            "(the bound in engines/limits.py)"
        )

    async def _request(self, method: str, url: str, ref: ImageRef, headers: dict[str, str] | None = None) -> Answer:
        answer, _ = await self._exchange(method, url, ref, headers, keep_open=False)
        return answer

    async def _open_checked(self, url: str, ref: ImageRef, headers: dict[str, str] | None = None) -> httpx.Response:
        """A GET whose successful answer is returned open, to be streamed (same credentials, retries and
        redirect rules as _request); the caller closes it."""
        answer, response = await self._exchange("GET", url, ref, headers, keep_open=True)
        if response is None:
            raise RegistryError(f"{ref.registry}/{ref.path}: HTTP {answer.status_code} where a blob was expected")
        return response

    async def _exchange(
        self, method: str, url: str, ref: ImageRef, headers: dict[str, str] | None, *, keep_open: bool
    ) -> tuple[Answer, httpx.Response | None]:
        """The request with its token negotiation and retries. With ``keep_open``, a 2xx answer's body is
        not read: the open response comes back with an empty Answer; every other answer is read (bounded)."""
        headers = dict(headers or {})
        scope = f"repository:{ref.path}:pull"
        registry = origin(base_url(ref))
        for attempt in range(self._max_retries + 1):
            token = self._tokens.get((ref.registry, scope))
            try:
                response = await self._open(method, url, ref, headers, token, registry)
                if keep_open and 200 <= response.status_code < 300:
                    return _answer_of(response, b""), response
                try:
                    answer = await self._read(response, ref)
                finally:
                    await response.aclose()
            except httpx.TransportError as exc:
                if attempt == self._max_retries:
                    raise RegistryError(
                        f"cannot reach the registry {ref.registry}: {exc.__class__.__name__}: "
                        f"{redact_urls_in(str(exc))}"
                    ) from None
                await asyncio.sleep(0.2 * 2**attempt)
                continue
            if answer.status_code == 401 and token is None and attempt < self._max_retries:
                if origin(answer.url) != registry:
                    raise RegistryAuthError(
                        f"{ref.registry}/{ref.path}: the registry redirected to {redact_url(str(answer.url))}, "
                        f"which asks for credentials; refused: credentials for {ref.registry} go only there"
                    )
                self._tokens[(ref.registry, scope)] = await self._authorize(answer, ref, scope)
                continue
            if answer.status_code == 429 and attempt < self._max_retries:
                await asyncio.sleep(_retry_after(answer, self._limits.max_retry_after))
                continue
            return self._checked(answer, ref), None
        raise RegistryError(f"{ref.registry}: gave up after {self._max_retries} retries")  # pragma: no cover

    async def _send(
        self,
        method: str,
        url: str | httpx.URL,
        ref: ImageRef,
        headers: dict[str, str],
        authorization: str | None,
        owner: Origin,
    ) -> Answer:
        """One request, its redirects followed; ``authorization`` goes along only to ``owner``'s origin,
        and a redirect from https to plain http is refused."""
        response = await self._open(method, url, ref, headers, authorization, owner)
        try:
            return await self._read(response, ref)
        finally:
            await response.aclose()

    async def _read(self, response: httpx.Response, ref: ImageRef) -> Answer:
        try:
            return await read_async(response, self._limits.max_bytes)
        except BoundExceeded as exc:
            raise RegistryError(f"{ref.registry}/{ref.path}: the registry {exc}") from None

    async def _open(
        self,
        method: str,
        url: str | httpx.URL,
        ref: ImageRef,
        headers: dict[str, str],
        authorization: str | None,
        owner: Origin,
    ) -> httpx.Response:
        """As _send, but the final response is returned unread and open (streamed): the caller closes it."""
        target = httpx.URL(url)
        for _ in range(self._limits.max_redirects + 1):
            sent = dict(headers)
            if authorization and origin(target) == owner:
                sent["Authorization"] = authorization
            self.requests += 1
            response = await self._client.send(self._client.build_request(method, target, headers=sent), stream=True)
            if not response.has_redirect_location:
                return response
            await response.aclose()
            following = target.join(response.headers["location"])
            if following.scheme not in ("http", "https") or (target.scheme, following.scheme) == ("https", "http"):
                raise RegistryError(
                    f"{ref.registry}/{ref.path}: refused a redirect from {target.scheme} to "
                    f"{redact_url(str(following))}"
                )
            target = following
        raise RegistryError(
            f"{ref.registry}/{ref.path}: more than {self._limits.max_redirects} redirects (engines/limits.py)"
        )

    async def _authorize(self, answer: Answer, ref: ImageRef, scope: str) -> str:
        challenge = answer.headers.get("www-authenticate", "")
        credentials = docker_credentials(ref.registry, self._docker_config)
        basic = "Basic " + base64.b64encode(":".join(credentials).encode()).decode() if credentials else None
        if challenge.lower().startswith("basic"):
            if not basic:
                raise RegistryAuthError(f"{ref.registry} needs credentials: run `docker login {ref.registry}`")
            return basic
        if challenge.lower().startswith("bearer"):
            params = dict(CHALLENGE_RE.findall(challenge))
            if not params.get("realm"):
                raise RegistryAuthError(f"{ref.registry}: cannot get a token (the challenge names no realm)")
            try:
                realm = httpx.URL(base_url(ref)).join(params["realm"])
            except httpx.InvalidURL:
                raise RegistryAuthError(f"{ref.registry}: cannot get a token (the realm is not a URL)") from None
            problem = realm_problem(base_url(ref), realm)
            if problem:
                raise RegistryAuthError(f"{ref.registry}: {problem}")
            query = {"service": params.get("service", ""), "scope": params.get("scope", scope)}
            try:
                token_answer = await self._send("GET", realm.copy_merge_params(query), ref, {}, basic, origin(realm))
            except httpx.TransportError as exc:
                raise RegistryAuthError(
                    f"{ref.registry}: cannot get a token ({exc.__class__.__name__}: {redact_urls_in(str(exc))})"
                ) from None
            if token_answer.status_code in (401, 403):
                raise RegistryAuthError(
                    f"{ref.registry} refused the credentials for {ref.path} "
                    f"(HTTP {token_answer.status_code}); check `docker login {ref.registry}`"
                )
            if token_answer.status_code >= 400:
                raise RegistryAuthError(f"{ref.registry}: the token service answered HTTP {token_answer.status_code}")
            body = _json_object(token_answer, ref)
            token = body.get("token") or body.get("access_token") or ""
            if not isinstance(token, str) or not token.isprintable():
                raise RegistryAuthError(f"{ref.registry}: the token service sent no usable token")
            return "Bearer " + token
        raise RegistryAuthError(f"{ref.registry} asks for an unsupported authentication: {challenge[:80]!r}")

    def _checked(self, answer: Answer, ref: ImageRef) -> Answer:
        if answer.status_code == 401:
            raise RegistryAuthError(
                f"{ref.registry} refused the credentials for {ref.path}; check `docker login {ref.registry}`"
            )
        if answer.status_code == 404:
            raise RegistryError(f"{ref.registry}/{ref.path}: no such repository or tag")
        if answer.status_code >= 400:
            raise RegistryError(f"{ref.registry}/{ref.path}: HTTP {answer.status_code}")
        return answer


def _mib(size: int) -> str:
    return f"{size / MIB:.1f} MiB" if size >= MIB else f"{size} bytes"


def _descriptor(entry: object, ref: ImageRef, what: str) -> Descriptor:
    """A descriptor from untrusted JSON: media type, a canonical sha256 digest and a non-negative size."""
    if isinstance(entry, dict):
        digest, size, kind = entry.get("digest"), entry.get("size"), entry.get("mediaType", "")
        if isinstance(digest, str) and isinstance(size, int) and size >= 0 and isinstance(kind, str):
            try:
                return Descriptor(kind, check_digest(digest), size)
            except ValueError:
                pass
    raise RegistryError(f"{ref.registry}/{ref.path}: an {what} is not a descriptor (mediaType, sha256 digest, size)")


def _platform_of(entry: object) -> str | None:
    """``os/arch[/variant]`` of an index entry; None for entries that are no image (attestations)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("platform"), dict):
        return None
    annotations = entry.get("annotations")
    if isinstance(annotations, dict) and "vnd.docker.reference.type" in annotations:
        return None
    platform = entry["platform"]
    parts = [platform.get("os"), platform.get("architecture"), platform.get("variant")]
    if not all(isinstance(part, str) and part for part in parts[:2]) or "unknown" in parts[:2]:
        return None
    return "/".join(part for part in parts if isinstance(part, str) and part)


def platform_matches(offered: str, wanted: str) -> bool:
    """linux/amd64 matches linux/amd64/v3 too (a variant is a refinement); linux/arm64/v8 only itself."""
    return offered == wanted or offered.startswith(wanted + "/")


def _image_manifest(
    ref: ImageRef, digest: str, index_digest: str | None, platforms: list[str], body: dict[str, Any]
) -> ResolvedManifest:
    layers = body.get("layers")
    if not isinstance(layers, list):
        raise RegistryError(f"{ref.registry}/{ref.path}@{digest}: the manifest's layers are not a list")
    return ResolvedManifest(
        digest,
        index_digest,
        platforms,
        True,
        _descriptor(body.get("config"), ref, "image config"),
        [_descriptor(layer, ref, "image layer") for layer in layers],
    )


def _answer_of(response: httpx.Response, content: bytes) -> Answer:
    return Answer(response.status_code, response.reason_phrase, response.headers, response.url, content)


def _json_object(answer: Answer, ref: ImageRef) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise RegistryError(
            f"{ref.registry}/{ref.path}: the registry answered something that is not JSON "
            f"(HTTP {answer.status_code}, {len(answer.content)} bytes)"
        )
    return body


def _retry_after(answer: Answer, longest: float) -> float:
    """Seconds to wait after a 429: the server's `Retry-After` in seconds, capped; 1 when it is a date or junk."""
    try:
        wanted = float(answer.headers.get("retry-after", "1") or 1)
    except ValueError:
        wanted = 1.0
    return min(max(wanted, 0.0), longest) if math.isfinite(wanted) else 1.0
