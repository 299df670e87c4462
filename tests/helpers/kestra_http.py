"""The REST API of the ContractKestra TEST DOUBLE (see kestra_contract.py for why it is a double)."""

from __future__ import annotations

import base64
import json
import re
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

from .kestra_model import FlowInvalid, check_flow

if TYPE_CHECKING:
    from .kestra_contract import ContractKestra


def handler_for(server: ContractKestra) -> type[BaseHTTPRequestHandler]:
    """The HTTP side of the double: Kestra's REST paths, auth and status codes, over ``server``'s state."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def _send(self, status: int, body: Any = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _dispatch(self, method: str) -> None:
            url = urlparse(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            server.requests.append((method, self.path))
            if url.path == "/api/v1/configs" and method == "GET":
                return self._send(200, {"uuid": "contract", "version": server.version, "edition": "OSS"})
            expected = "Basic " + base64.b64encode(f"{server.username}:{server.password}".encode()).decode()
            allowed = {expected, f"Bearer {server.token}"} if server.token else {expected}
            if self.headers.get("Authorization") not in allowed:
                return self._send(401, {"message": "Unauthorized"})
            if not url.path.startswith(server.prefix + "/"):
                return self._send(404, {"message": f"Page Not Found: {url.path}"})
            parts = url.path[len(server.prefix) + 1 :].split("/")
            try:
                with server.lock:
                    return self._route(method, parts, query)
            except FlowInvalid as exc:
                return self._send(
                    422,
                    {
                        "message": "Invalid entity: " + "; ".join(exc.errors),
                        "_embedded": {"errors": [{"message": e} for e in exc.errors]},
                    },
                )

        def _route(self, method: str, parts: list[str], query: dict[str, str]) -> None:
            if parts[0] == "flows":
                return self._flows(method, parts[1:], query)
            if parts[0] == "executions":
                return self._executions(method, parts[1:], query)
            if parts[0] == "logs" and method == "GET" and len(parts) == 2:
                return self._send(200, server.logs.get(parts[1], []))
            return self._send(404, {"message": "Page Not Found"})

        def _flows(self, method: str, parts: list[str], query: dict[str, str]) -> None:
            if method == "POST" and parts == ["validate"]:
                # FlowService.validate (core@v1.0.20): the body split on "\n+---\n*?", one
                # ValidateConstraintViolation per source; `constraints` only when refused.
                answer = []
                body = self._body().decode().strip()
                for index, source in enumerate(re.split(r"\n+---\n*?", body)):
                    verdict = check_flow(source, server.missing, server.version)
                    # A source that does not parse gets only its index and constraints: the other fields are
                    # set after parsing, and Kestra's JSON mapper leaves out nulls (Include.NON_NULL).
                    entry: dict[str, Any] = {"index": index, "outdated": False}
                    if verdict.parse_error is None:
                        entry.update(deprecationPaths=verdict.deprecated, warnings=[], infos=verdict.infos)
                    if verdict.flow and verdict.parse_error is None:
                        entry.update(flow=verdict.flow.get("id"), namespace=verdict.flow.get("namespace"))
                        revision = verdict.flow.get("revision")
                        if isinstance(revision, int):
                            current = server.latest(str(verdict.flow.get("namespace")), str(verdict.flow.get("id")))
                            entry["outdated"] = revision != (current["revision"] if current else 0) + 1
                    if verdict.constraints:
                        entry["constraints"] = verdict.constraints
                    answer.append(entry)
                return self._send(200, answer)
            if method == "POST" and len(parts) == 1:
                namespace = parts[0]
                sources = [s.strip() for s in self._body().decode().split("---") if s.strip()]
                parsed = [check_flow(s, server.missing, server.version) for s in sources]
                problems = [v.constraints for v in parsed if v.constraints]
                problems += [
                    f"flow.namespace: {v.flow['namespace']}.{v.flow['id']} - flow namespace is invalid"
                    for v in parsed
                    if v.flow and v.flow.get("namespace") != namespace
                ]
                if problems:
                    raise FlowInvalid(problems)
                ids = [v.flow["id"] for v in parsed if v.flow]
                deleted = []
                if query.get("delete", "true") == "true":  # Kestra's default: a full sync
                    for (ns, flow_id), revisions in server.flows.items():
                        if ns == namespace and flow_id not in ids and not revisions[-1].get("deleted"):
                            revisions.append({**revisions[-1], "deleted": True})
                            deleted.append(revisions[-1])
                saved = [server.save(s) for s in sources]
                return self._send(200, [_public(f) for f in deleted + saved])
            if method == "GET" and len(parts) == 1:
                return self._send(
                    200,
                    [
                        _public(r[-1])
                        for (ns, _), r in sorted(server.flows.items())
                        if ns == parts[0] and not r[-1].get("deleted")
                    ],
                )
            if len(parts) == 2:
                flow = server.latest(*parts)
                if flow is None:
                    return self._send(404, {"message": f"Flow {parts[0]}.{parts[1]} not found"})
                if method == "GET":
                    return self._send(200, flow if query.get("source") == "true" else _public(flow))
                if method == "PUT":  # FlowController.updateFlow (YAML): what the UI's editor saves
                    source = self._body().decode()
                    verdict = check_flow(source, server.missing, server.version)
                    if verdict.flow and (verdict.flow.get("namespace"), verdict.flow.get("id")) != tuple(parts):
                        raise FlowInvalid(["flow id or namespace differ from the path"])
                    return self._send(200, _public(server.save(source)))
                if method == "DELETE":
                    server.flows[tuple(parts)].append({**flow, "deleted": True})  # type: ignore[index]
                    return self._send(204)
            return self._send(404, {"message": "Page Not Found"})

        def _executions(self, method: str, parts: list[str], query: dict[str, str]) -> None:
            if method == "GET" and parts == ["search"]:
                found = [
                    e
                    for e in server.executions.values()
                    if e["namespace"] == query.get("namespace") and e["flowId"] == query.get("flowId")
                ]
                found.sort(key=lambda e: e["state"]["startDate"], reverse=True)
                size = int(query.get("size", 10))
                return self._send(200, {"results": found[:size], "total": len(found)})
            if method == "GET" and len(parts) == 1:
                execution = server.executions.get(parts[0])
                if execution is None:
                    return self._send(404, {"message": f"Execution {parts[0]} not found"})
                return self._send(200, execution)
            if method == "POST" and len(parts) == 2:
                if not (self.headers.get("Content-Type") or "").startswith("multipart/form-data"):
                    return self._send(415, {"message": "Unsupported Media Type"})
                flow = server.latest(*parts)
                if flow is None:
                    return self._send(404, {"message": f"Flow {parts[0]}.{parts[1]} not found"})
                execution = server.start(flow, self._form())
                threading.Thread(target=server.execute, args=(execution, flow), daemon=True).start()
                return self._send(200, execution)
            return self._send(404, {"message": "Page Not Found"})

        def _form(self) -> dict[str, str]:
            body = self._body()
            header = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
            message = BytesParser(policy=HTTP).parsebytes(header + body)
            fields = {}
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if name:
                    fields[str(name)] = part.get_content()
            return fields

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_PUT(self) -> None:
            self._dispatch("PUT")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

    return Handler


def _public(flow: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in flow.items() if k != "source"}
