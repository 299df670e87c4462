"""The OCI distribution API over httpx: tags (paginated) and manifest digests of any v2 registry.

Handles what Docker Hub, GHCR and Quay do: an anonymous bearer token fetched after a
`WWW-Authenticate: Bearer` challenge, basic auth from the Docker config for private registries,
`429 Too Many Requests` with `Retry-After`, pagination through `Link` headers. Requests run
concurrently under a bound, and answers are cached for a short while.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import httpx

from ..catalog.images import DOCKER_HUB, ImageRef
from ..errors import AipairError

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
    for key in keys:
        encoded = auths.get(key, {}).get("auth")
        if encoded:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
            return user, password
    return None


class RegistryClient:
    """Async client; use as ``async with RegistryClient() as client``."""

    def __init__(
        self,
        *,
        concurrency: int = 8,
        timeout: float = 15.0,
        cache_seconds: float = 300.0,
        max_retries: int = 3,
        docker_config: Path | None = None,
        page_size: int = 1000,
    ) -> None:
        self._page_size = page_size
        self._semaphore = asyncio.Semaphore(concurrency)
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=True)
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
        """Every tag of the repository, following `Link: <…>; rel="next"` pages."""
        key = f"tags {ref.registry}/{ref.path}"
        cached = self._cached(key)
        if cached is not None:
            return list(cached)
        url: str | None = f"{base_url(ref)}/v2/{ref.path}/tags/list?n={self._page_size}"
        found: list[str] = []
        while url:
            response = await self._request("GET", url, ref)
            found += response.json().get("tags") or []
            match = LINK_RE.search(response.headers.get("link", ""))
            url = httpx.URL(url).join(match.group(1)).__str__() if match else None
        self._cache[key] = (time.monotonic() + self._cache_seconds, found)
        return list(found)

    async def digest(self, ref: ImageRef, tag: str) -> str:
        """The manifest (or index) digest of ``tag``: what `image@sha256:…` pins."""
        key = f"digest {ref.registry}/{ref.path}:{tag}"
        cached = self._cached(key)
        if cached is not None:
            return str(cached)
        response = await self._request(
            "HEAD", f"{base_url(ref)}/v2/{ref.path}/manifests/{tag}", ref, headers={"Accept": MANIFEST_TYPES}
        )
        digest = response.headers.get("docker-content-digest")
        if not digest:
            raise RegistryError(f"{ref.registry}/{ref.path}:{tag}: the registry sent no Docker-Content-Digest")
        self._cache[key] = (time.monotonic() + self._cache_seconds, digest)
        return str(digest)

    def _cached(self, key: str) -> Any:
        entry = self._cache.get(key)
        return entry[1] if entry and entry[0] > time.monotonic() else None

    async def _request(
        self, method: str, url: str, ref: ImageRef, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        headers = dict(headers or {})
        scope = f"repository:{ref.path}:pull"
        async with self._semaphore:
            for attempt in range(self._max_retries + 1):
                token = self._tokens.get((ref.registry, scope))
                if token:
                    headers["Authorization"] = token
                try:
                    self.requests += 1
                    response = await self._client.request(method, url, headers=headers)
                except httpx.TransportError as exc:
                    if attempt == self._max_retries:
                        raise RegistryError(
                            f"cannot reach the registry {ref.registry}: {exc.__class__.__name__}: {exc}"
                        ) from None
                    await asyncio.sleep(0.2 * 2**attempt)
                    continue
                if response.status_code == 401 and attempt < self._max_retries and "Authorization" not in headers:
                    self._tokens[(ref.registry, scope)] = await self._authorize(response, ref, scope)
                    continue
                if response.status_code == 429 and attempt < self._max_retries:
                    await asyncio.sleep(min(float(response.headers.get("retry-after", "1") or 1), 30.0))
                    continue
                return self._checked(response, ref)
        raise RegistryError(f"{ref.registry}: gave up after {self._max_retries} retries")  # pragma: no cover

    async def _authorize(self, response: httpx.Response, ref: ImageRef, scope: str) -> str:
        challenge = response.headers.get("www-authenticate", "")
        credentials = docker_credentials(ref.registry, self._docker_config)
        if challenge.lower().startswith("basic"):
            if not credentials:
                raise RegistryAuthError(f"{ref.registry} needs credentials: run `docker login {ref.registry}`")
            return "Basic " + base64.b64encode(":".join(credentials).encode()).decode()
        if challenge.lower().startswith("bearer"):
            params = dict(CHALLENGE_RE.findall(challenge))
            query = {"service": params.get("service", ""), "scope": params.get("scope", scope)}
            auth = httpx.BasicAuth(*credentials) if credentials else None
            try:
                token_response = await self._client.get(params["realm"], params=query, auth=auth)
            except (KeyError, httpx.TransportError) as exc:
                raise RegistryAuthError(f"{ref.registry}: cannot get a token ({exc})") from None
            if token_response.status_code in (401, 403):
                raise RegistryAuthError(
                    f"{ref.registry} refused the credentials for {ref.path} "
                    f"(HTTP {token_response.status_code}); check `docker login {ref.registry}`"
                )
            body = token_response.json()
            return "Bearer " + (body.get("token") or body.get("access_token") or "")
        raise RegistryAuthError(f"{ref.registry} asks for an unsupported authentication: {challenge[:80]!r}")

    def _checked(self, response: httpx.Response, ref: ImageRef) -> httpx.Response:
        if response.status_code == 401:
            raise RegistryAuthError(
                f"{ref.registry} refused the credentials for {ref.path}; check `docker login {ref.registry}`"
            )
        if response.status_code == 404:
            raise RegistryError(f"{ref.registry}/{ref.path}: no such repository or tag")
        if response.status_code >= 400:
            raise RegistryError(f"{ref.registry}/{ref.path}: HTTP {response.status_code}")
        return response
