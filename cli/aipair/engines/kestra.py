"""A Kestra server over its REST API (httpx). The only module that talks to Kestra.

What it knows about the API (checked against Kestra's FlowController, ExecutionController and
MiscController):

- ``GET /api/v1/configs`` (no tenant) answers the server version; since 0.23 every other path
  carries a tenant (``/api/v1/main/...`` in open source), before that none.
- ``POST /api/v1/<tenant>/flows/<namespace>`` replaces a namespace from YAML sources joined with
  ``---`` and **deletes flows missing from the body unless ``delete=false``**: this client always
  sends ``delete=false``; removing flows is a separate, explicit ``DELETE`` per flow.
- ``POST /api/v1/<tenant>/flows/validate`` validates without saving; the answer is a list of
  ``ValidateConstraintViolation`` (core/src/main/java/io/kestra/core/models/validations/
  ValidateConstraintViolation.java, identical at v1.0.20 and v2.0.0 but for a ``filename`` added in 2.0),
  one per flow: ``{index, flow, namespace, constraints, outdated, deprecationPaths, warnings, infos}``.
  ``constraints`` is ONE string, absent when the flow is valid: FlowService.validate (core, v1.0.20) writes
  ``"Validation error: " + <the ConstraintViolationException's message>`` or ``"Unable to validate the flow:
  ..."``; it is shown verbatim. No Kestra source produces a list of ``{detail, path}`` errors, so none is
  parsed. ``outdated`` is true when the source carries a ``revision`` that is not the next one.
- Saving an unchanged source keeps the flow's revision.

The server is not trusted with more than it needs: every request is bounded by engines/limits.py
(connect and read timeouts, a total deadline a trickling answer cannot reset, bytes per answer),
redirects are not followed, and the credentials (basic, token, or userinfo written into the URL)
are sent only to the server's own origin and never appear in a message.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import httpx

from ..errors import AipairError, Unavailable, UsageError
from ..redact import redact_url, redact_urls_in
from .kestra_answers import TERMINAL_STATES, Execution, FlowInfo, LogLine, Violation, flow_info, violation
from .limits import KESTRA, Answer, BoundExceeded, Bounds, DeadlineTransport, deadline, read_sync

DEFAULT_URL = "http://localhost:8080"


class KestraError(AipairError):
    """The server refused or failed a request; the message carries the server's own words."""


class KestraUnavailable(KestraError, Unavailable):
    """Not reachable, or it refused our credentials: nothing was changed."""


class KestraNotFound(KestraError, UsageError):
    """A flow or execution that does not exist: a usage error."""


@dataclass(frozen=True)
class Credentials:
    """Basic auth (username and password) or an API token (bearer), never both."""

    username: str | None = None
    password: str | None = None
    token: str | None = None

    def authorization(self) -> str | None:
        """The Authorization header's value, None without credentials."""
        if self.username:
            pair = f"{self.username}:{self.password or ''}".encode()
            return "Basic " + base64.b64encode(pair).decode()
        return f"Bearer {self.token}" if self.token else None


class OriginAuth(httpx.Auth):
    """An Authorization header added only to requests for one origin (scheme, host, port): the server's."""

    def __init__(self, server: httpx.URL, authorization: str) -> None:
        self._origin = _origin(server)
        self._authorization = authorization

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if _origin(request.url) == self._origin:
            request.headers["Authorization"] = self._authorization
        yield request


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or {"http": 80, "https": 443}.get(url.scheme)


def _version_tuple(version: str) -> tuple[int, ...]:
    numbers = []
    for part in version.split("-")[0].split("."):
        if not part.isdigit():
            break
        numbers.append(int(part))
    return tuple(numbers)


class KestraClient:
    """One server. ``tenant`` None means: ask the server's version and choose (``main`` from 0.23 on).

    ``url`` may carry credentials (``https://user:password@host``): they are used as basic auth when no
    other credentials are given, and removed from ``self.url``, which messages show. ``timeout`` is the
    read timeout (``--timeout``); ``limits`` the other bounds (engines/limits.py)."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        credentials: Credentials = Credentials(),
        tenant: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        limits: Bounds = KESTRA,
    ) -> None:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            parsed = httpx.URL()
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise UsageError(
                f"the Kestra URL {redact_url(url)!r} is not an http or https URL; set --server or KESTRA_URL"
            )
        if parsed.userinfo and not (credentials.username or credentials.token):
            credentials = Credentials(username=parsed.username, password=parsed.password)
        server = parsed.copy_with(userinfo=b"", query=None, fragment=None)
        self.url = redact_url(str(server)).rstrip("/")
        authorization = credentials.authorization()
        self._client = httpx.Client(
            base_url=server,
            auth=OriginAuth(server, authorization) if authorization else None,
            timeout=httpx.Timeout(timeout, connect=min(limits.connect, timeout)),
            transport=transport or DeadlineTransport(),
            follow_redirects=False,
        )
        self._limits = limits
        self._deadline = max(limits.deadline, timeout)
        self._retries = retries
        self._backoff = backoff
        self._tenant = tenant
        self._version: str | None = None

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> KestraClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- transport ------------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> Answer:
        """One request, read within the byte bound and the deadline (engines/limits.py)."""
        with deadline(self._deadline):
            response = self._client.send(self._client.build_request(method, path, **kwargs), stream=True)
            try:
                return read_sync(response, self._limits.max_bytes)
            finally:
                response.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Answer:
        """Retries only when the request cannot have reached the server (connect errors), with backoff."""
        for attempt in range(self._retries + 1):
            started = time.monotonic()
            try:
                response = self._send(method, path, **kwargs)
                break
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt == self._retries:
                    raise KestraUnavailable(
                        f"cannot reach Kestra at {self.url} ({redact_urls_in(str(exc))}); is the server running? "
                        "Set --server or KESTRA_URL"
                    ) from None
                time.sleep(self._backoff * 2**attempt)
            except httpx.TimeoutException:
                if time.monotonic() - started >= self._deadline - 0.05:
                    raise KestraUnavailable(
                        f"Kestra at {self.url} did not finish answering {method} {path} within the "
                        f"{self._deadline:.0f} s deadline (engines/limits.py); the server is overloaded or "
                        "sends its answer a byte at a time"
                    ) from None
                raise KestraUnavailable(
                    f"Kestra at {self.url} did not answer {method} {path} in time; "
                    "raise --timeout or check the server's load"
                ) from None
            except BoundExceeded as exc:
                raise KestraError(f"Kestra at {self.url} {exc}: {method} {path}") from None
            except httpx.TransportError as exc:
                raise KestraUnavailable(
                    f"Kestra at {self.url} broke off {method} {path} "
                    f"({exc.__class__.__name__}: {redact_urls_in(str(exc))})"
                ) from None
        if 300 <= response.status_code < 400:
            location = redact_url(response.headers.get("location", "?"))
            raise KestraUnavailable(
                f"Kestra at {self.url} redirected {method} {path} to {location}; not followed (credentials stay "
                "with the server named): set --server or KESTRA_URL to the server's real URL"
            )
        if response.status_code in (401, 403):
            raise KestraUnavailable(
                f"Kestra at {self.url} refused the credentials ({response.status_code}): set KESTRA_USER and "
                "KESTRA_PASSWORD (basic auth, mandatory since Kestra 0.24) or KESTRA_API_TOKEN"
            )
        if response.status_code >= 400:
            message = _server_message(response)
            if response.status_code == 404:
                raise KestraNotFound(message)
            raise KestraError(f"Kestra refused {method} {path} ({response.status_code}): {message}")
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The answer's body as JSON: a clear error when it is not (a proxy's login page, a wrong --server)."""
        response = self._request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise KestraError(
                f"Kestra at {self.url} answered {method} {path} with something that is not JSON "
                f"({len(response.content)} bytes); is --server the Kestra API?"
            ) from None

    @property
    def api(self) -> str:
        """The API prefix with the tenant, e.g. ``/api/v1/main``."""
        if self._tenant is None:
            self._tenant = "main" if _version_tuple(self.version()) >= (0, 23) else ""
        return f"/api/v1/{self._tenant}".rstrip("/")

    def version(self) -> str:
        if self._version is None:
            try:
                body = self._json("GET", "/api/v1/configs")
            except KestraNotFound:
                raise KestraUnavailable(f"{self.url} does not look like a Kestra server (no /api/v1/configs)") from None
            self._version = str((body.get("version") if isinstance(body, dict) else None) or "0")
        return self._version

    # --- flows ----------------------------------------------------------------------------------

    def validate(self, sources: list[str]) -> list[Violation]:
        answer = self._json(
            "POST",
            f"{self.api}/flows/validate",
            content=join_sources(sources),
            headers={"Content-Type": "application/x-yaml"},
        )
        return [violation(entry) for entry in answer]

    def flows(self, namespace: str) -> list[FlowInfo]:
        return [flow_info(body) for body in self._json("GET", f"{self.api}/flows/{namespace}")]

    def flow(self, namespace: str, flow_id: str, *, source: bool = False) -> FlowInfo | None:
        path = f"{self.api}/flows/{namespace}/{flow_id}"
        try:
            response = self._request("GET", path, params={"source": str(source).lower()})
        except KestraNotFound:
            return None
        if not response.content:
            return None
        try:
            return flow_info(response.json())
        except ValueError:
            raise KestraError(f"Kestra at {self.url} answered GET {path} with something that is not JSON") from None

    def update_namespace(self, namespace: str, sources: list[str]) -> list[FlowInfo]:
        """Create or update ``sources``; ``delete=false`` so flows not sent are left alone."""
        saved = self._json(
            "POST",
            f"{self.api}/flows/{namespace}",
            params={"delete": "false"},
            content=join_sources(sources),
            headers={"Content-Type": "application/x-yaml"},
        )
        return [flow_info(body) for body in saved]

    def delete_flow(self, namespace: str, flow_id: str) -> None:
        self._request("DELETE", f"{self.api}/flows/{namespace}/{flow_id}")

    # --- executions -----------------------------------------------------------------------------

    def start(self, namespace: str, flow_id: str, inputs: dict[str, str]) -> Execution:
        # The endpoint takes multipart/form-data only; httpx writes that for `files`, so each input is a
        # form field sent through `files` without a filename. No inputs: an empty multipart body.
        path = f"{self.api}/executions/{namespace}/{flow_id}"
        if inputs:
            request: dict[str, Any] = {"files": {name: (None, value) for name, value in inputs.items()}}
        else:
            request = {
                "content": b"--aipair--\r\n",
                "headers": {"Content-Type": "multipart/form-data; boundary=aipair"},
            }
        try:
            return Execution.from_api(self._json("POST", path, **request))
        except KestraNotFound:
            raise KestraNotFound(
                f"no flow {namespace}.{flow_id} on {self.url}: register it first (aipair flows register)"
            ) from None

    def execution(self, execution_id: str) -> Execution:
        return Execution.from_api(self._json("GET", f"{self.api}/executions/{execution_id}"))

    def follow(
        self,
        execution_id: str,
        *,
        interval: float = 1.0,
        timeout: float = 3600.0,
        on_change: Callable[[Execution], None] = lambda _: None,
    ) -> Execution:
        """Poll until the execution ends; ``on_change`` sees every new snapshot (for a live display)."""
        deadline = time.monotonic() + timeout
        last: tuple[str, list[tuple[str, str]]] | None = None
        while True:
            current = self.execution(execution_id)
            snapshot = (current.state, [(t.task, t.state) for t in current.tasks])
            if snapshot != last:
                on_change(current)
                last = snapshot
            if current.state in TERMINAL_STATES:
                return current
            if time.monotonic() > deadline:
                raise KestraError(
                    f"execution {execution_id} is still {current.state} after {timeout:.0f} s; "
                    "it keeps running on the server"
                )
            time.sleep(interval)

    def executions(self, namespace: str, flow_id: str, *, size: int = 1) -> list[Execution]:
        """The latest ``size`` executions (one page, at most limits.KESTRA.max_page_size)."""
        size = max(1, min(size, self._limits.max_page_size))
        found = self._json(
            "GET",
            f"{self.api}/executions/search",
            params={"namespace": namespace, "flowId": flow_id, "size": size, "page": 1, "sort": "state.startDate:desc"},
        )
        return [Execution.from_api(body) for body in (found.get("results") if isinstance(found, dict) else None) or []]

    def logs(self, execution_id: str) -> list[LogLine]:
        return [
            LogLine(task=line.get("taskId"), level=str(line.get("level")), message=str(line.get("message")))
            for line in self._json("GET", f"{self.api}/logs/{execution_id}")
        ]


def join_sources(sources: list[str]) -> str:
    """Kestra splits the body on every "---"; a source containing one would be cut in two."""
    for source in sources:
        if "---" in source:
            raise KestraError("a flow contains '---', which Kestra's bulk API splits on; remove it from the flow")
    return "\n---\n".join(source.strip() for source in sources)


def _error_line(error: Any) -> str:
    if isinstance(error, dict):
        where = error.get("path") or error.get("pointer")
        return f"{where}: {error.get('detail')}" if where else str(error.get("detail"))
    return str(error)


def _server_message(response: Answer) -> str:
    """The most useful text of an error answer: Kestra uses Micronaut's JSON errors or RFC 9457 problems."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    lines: list[str] = []
    if isinstance(body, dict):
        for key in ("message", "detail", "title"):
            if body.get(key):
                lines.append(str(body[key]))
                break
        nested = (body.get("_embedded") or {}).get("errors") or body.get("errors") or []
        for error in nested:
            text = _error_line(error) if "detail" in error else str(error.get("message", error))
            if text not in lines[0:1]:
                lines.append(text)
    return "\n".join(lines) or response.text.strip()[:500]


def client_from_environment(server: str, *, timeout: float) -> KestraClient:
    """A client for ``server`` with credentials from KESTRA_USER/KESTRA_PASSWORD or KESTRA_API_TOKEN
    (secrets are never taken as flags, where `ps` would show them)."""
    import os

    credentials = Credentials(
        username=os.environ.get("KESTRA_USER") or None,
        password=os.environ.get("KESTRA_PASSWORD"),
        token=os.environ.get("KESTRA_API_TOKEN") or None,
    )
    return KestraClient(server, credentials=credentials, timeout=timeout)
