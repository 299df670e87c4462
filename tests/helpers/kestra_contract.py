"""ContractKestra: a TEST DOUBLE of the Kestra server's REST API.

Why a double: a real Kestra server cannot run here. Its server module `io.kestra:kestra` (and `cli`,
`webserver`, `ui`) is absent from Maven Central at every version (404), so the REST API cannot be
assembled; the engine itself (core, executor, worker, scheduler) can, and tests/kestra-engine runs the
rendered flows in it (Kestra 1.0.20, and loads them in 2.0.0).

What it is kept for, because the engine module cannot show it: the REST paths with and without a
tenant, basic auth and API tokens, the namespace bulk update (`delete` defaults to true), get/list/
delete/put of flows with their revisions, and the executions API (multipart inputs, search, logs).
Every behaviour the engine can also show is written from Kestra's sources (file@tag in the comments)
and is checked against the engine module in the same run:

- `POST .../flows/validate`: one ValidateConstraintViolation per source, `constraints` ONE string
  (kestra_model.Verdict; FlowService.validate, core@v1.0.20);
- task types by server version (ForEach to 1.x, Loop from 2.0; kestra_model.known_types);
- exponential retries: the delay after the n-th failed attempt is interval*2*(n-1) up to 1.x (the first
  retry is immediate) and interval*2^(n-1) from 2.0, capped at maxInterval (Exponential.nextRetryDate,
  core@v1.0.20 and @v2.0.0); ``time_scale`` shrinks the waits in tests, ``retry_waits`` records them;
- stderr lines logged at ERROR, `::{"outputs":...}::` lines on either stream become vars
  (PluginUtilsService.parseOut, core@v1.0.20);
- outputs: If `{evaluationResult}`, Subflow `{executionId, state, outputs}`, Request `{uri, code,
  headers, body}` failing on a code >= 400 (the task classes' Output, core@v1.0.20);
- Loop (2.0): `item.value`, and `transmitFailed` (default true) ends the loop at the first failed
  iteration (LoopExecutionEventMessageHandler, executor@v2.0.0).

Executions run for real in a thread, for the task types aipair renders: shell Commands on the Process
runner (real processes, `set -e` as Kestra's failFast), If, ForEach/Loop, Subflow, Fail, Log and http
Request, with retries, the `errors` branch and flow outputs. Expressions are Pebble's simple subset,
evaluated with Jinja2 (same syntax for what the flows use) plus `read`, `fromJson` and `secret` (from
`SECRET_<NAME>` base64 variables, as Kestra open source reads them).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jinja2

from .kestra_http import handler_for
from .kestra_model import ALIASES, LOOP, FlowInvalid, check_flow, now, retry_delay, seconds


class ContractKestra:
    """Start with ``with ContractKestra(...) as server: server.url``."""

    def __init__(
        self,
        *,
        username: str = "admin@kestra.io",
        password: str = "Admin1234",
        version: str = "1.0.4",
        worker_env: dict[str, str] | None = None,
        missing_plugins: frozenset[str] = frozenset(),
        token: str | None = None,
        port: int = 0,
        time_scale: float = 1.0,
    ) -> None:
        self.username, self.password, self.version = username, password, version
        self.prefix = "/api/v1/main" if tuple(int(p) for p in version.split(".")[:2]) >= (0, 23) else "/api/v1"
        self.worker_env = {**os.environ, **(worker_env or {})}
        self.missing = missing_plugins
        self.token = token  # an API token accepted as `Authorization: Bearer ...` besides basic auth
        self.flows: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.executions: dict[str, dict[str, Any]] = {}
        self.logs: dict[str, list[dict[str, Any]]] = {}
        self.storage = Path(tempfile.mkdtemp(prefix="contract-kestra-"))
        self.lock = threading.RLock()
        self.requests: list[tuple[str, str]] = []
        self.time_scale = time_scale  # retry waits are multiplied by it (tests: small)
        self.retry_waits: list[tuple[str, float]] = []  # (task id, seconds Kestra would wait)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ContractKestra:
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        shutil.rmtree(self.storage, ignore_errors=True)

    # --- flows ------------------------------------------------------------------------------------

    def latest(self, namespace: str, flow_id: str) -> dict[str, Any] | None:
        revisions = self.flows.get((namespace, flow_id))
        return revisions[-1] if revisions and not revisions[-1].get("deleted") else None

    def save(self, source: str) -> dict[str, Any]:
        verdict = check_flow(source, self.missing, self.version)
        if verdict.constraints:
            raise FlowInvalid(verdict.errors)
        flow = verdict.flow
        assert flow is not None
        key = (flow["namespace"], flow["id"])
        current = self.latest(*key)
        if current is not None and current["source"] == source:
            return current
        revisions = self.flows.setdefault(key, [])
        saved = {**flow, "revision": len(revisions) + 1, "source": source}
        if isinstance(flow.get("labels"), dict):
            # The API answers List<Label> as [{key, value}], values made strings by String.valueOf
            # (ListOrMapOfLabelDeserializer, core@v1.0.20).
            saved["labels"] = [
                {"key": k, "value": str(v).lower() if isinstance(v, bool) else str(v)}
                for k, v in flow["labels"].items()
            ]
        revisions.append(saved)
        return saved

    # --- executions -------------------------------------------------------------------------------

    def start(self, flow: dict[str, Any], inputs: dict[str, str], parent: str | None = None) -> dict[str, Any]:
        for declared in flow.get("inputs") or []:
            value = inputs.get(declared["id"])
            if value is None and declared.get("required", True) and "defaults" not in declared:
                raise FlowInvalid(
                    [f"inputs.{declared['id']}: Invalid input for `{declared['id']}`, missing required input"]
                )
            if value is not None and declared.get("validator") and not re.fullmatch(declared["validator"], value):
                raise FlowInvalid(
                    [
                        f"inputs.{declared['id']}: Invalid input for `{declared['id']}`, it must "
                        f"match the pattern `{declared['validator']}`"
                    ]
                )
        execution = {
            "id": uuid.uuid4().hex[:22],
            "namespace": flow["namespace"],
            "flowId": flow["id"],
            "flowRevision": flow["revision"],
            "inputs": dict(inputs),
            "taskRunList": [],
            "outputs": {},
            "parentId": parent,
            "state": {"current": "CREATED", "startDate": now(), "histories": []},
        }
        with self.lock:
            self.executions[execution["id"]] = execution
            self.logs[execution["id"]] = []
        return execution

    def _state(self, item: dict[str, Any], state: str) -> None:
        with self.lock:
            item["state"]["current"] = state
            item["state"]["histories"].append({"state": state, "date": now()})
            if state in ("SUCCESS", "FAILED", "WARNING", "KILLED"):
                item["state"]["endDate"] = now()

    def _log(self, execution: dict[str, Any], task: str | None, level: str, message: str) -> None:
        with self.lock:
            self.logs[execution["id"]].append(
                {"executionId": execution["id"], "taskId": task, "level": level, "message": message, "timestamp": now()}
            )

    def execute(self, execution: dict[str, Any], flow: dict[str, Any]) -> None:
        self._state(execution, "RUNNING")
        context: dict[str, Any] = {
            "inputs": execution["inputs"],
            "outputs": {},
            "execution": {"id": execution["id"]},
            "flow": {"id": flow["id"], "namespace": flow["namespace"]},
        }
        ok = self._run_tasks(execution, flow["tasks"], context, None)
        if not ok and flow.get("errors"):
            self._run_tasks(execution, flow["errors"], context, None)
        if ok:
            try:
                execution["outputs"] = {o["id"]: self.render(o["value"], context) for o in flow.get("outputs") or []}
            except Exception as exc:
                self._log(execution, None, "ERROR", f"Failed to render outputs: {exc}")
                ok = False
        self._state(execution, "SUCCESS" if ok else "FAILED")

    def render(self, value: Any, context: dict[str, Any]) -> Any:
        if isinstance(value, str):
            env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
            env.globals.update(read=self._read, fromJson=json.loads, secret=self._secret)
            return env.from_string(value).render(**context)
        if isinstance(value, list):
            return [self.render(v, context) for v in value]
        if isinstance(value, dict):
            return {k: self.render(v, context) for k, v in value.items()}
        return value

    def _read(self, uri: str) -> str:
        return (self.storage / uri.removeprefix("kestra:///")).read_text()

    def _secret(self, name: str) -> str:
        encoded = self.worker_env.get(f"SECRET_{name}")
        if encoded is None:
            raise ValueError(f"Cannot find secret for key '{name}'.")
        return base64.b64decode(encoded).decode()

    def _run_tasks(
        self, execution: dict[str, Any], tasks: list[dict[str, Any]], context: dict[str, Any], value: str | None
    ) -> bool:
        for task in tasks:
            if not self._run_task(execution, task, context, value):
                return False
        return True

    def _run_task(
        self, execution: dict[str, Any], task: dict[str, Any], context: dict[str, Any], value: str | None
    ) -> bool:
        run = {
            "id": uuid.uuid4().hex[:22],
            "taskId": task["id"],
            "value": value,
            "attempts": [],
            "state": {"current": "CREATED", "histories": []},
            "outputs": {},
        }
        with self.lock:
            execution["taskRunList"].append(run)
        self._state(run, "RUNNING")
        retry = task.get("retry") or {}
        attempts = int(retry.get("maxAttempts", 1))
        ok = False
        for attempt in range(attempts):
            run["attempts"].append({"state": {"current": "RUNNING", "startDate": now()}})
            try:
                ok = self._run_kind(execution, task, run, {**context, "taskrun": {"value": value, "id": run["id"]}})
            except Exception as exc:
                self._log(execution, task["id"], "ERROR", str(exc))
                ok = False
            run["attempts"][-1]["state"]["current"] = "SUCCESS" if ok else "FAILED"
            if ok or task["type"] in ("io.kestra.plugin.core.execution.Fail", "io.kestra.plugin.core.flow.If"):
                break
            if attempt + 1 < attempts:
                wait = retry_delay(retry, attempt + 1, self.version)
                self.retry_waits.append((task["id"], wait))
                time.sleep(wait * self.time_scale)
        if ok and len(run["attempts"]) > 1 and retry.get("warningOnRetry"):
            self._state(run, "WARNING")
        else:
            self._state(run, "SUCCESS" if ok else "FAILED")
        if ok:
            context["outputs"][task["id"]] = run["outputs"]
        return ok

    def _run_kind(
        self, execution: dict[str, Any], task: dict[str, Any], run: dict[str, Any], context: dict[str, Any]
    ) -> bool:
        kind = ALIASES.get(task["type"], task["type"])
        if kind == "io.kestra.plugin.scripts.shell.Commands":
            return self._commands(execution, task, run, context)
        if kind == "io.kestra.plugin.core.flow.If":
            result = str(self.render(task["condition"], context)).strip().lower() == "true"
            run["outputs"] = {"evaluationResult": result}  # If.Output, core@v1.0.20
            branch = "then" if result else "else"
            return self._run_tasks(execution, task.get(branch) or [], context, context["taskrun"]["value"])
        if kind == "io.kestra.plugin.core.flow.ForEach":
            values = self.render(task["values"], context)
            values = json.loads(values) if isinstance(values, str) else values
            for item in values:  # sequential (concurrencyLimit 1): a failed iteration stops the rest
                item_text = item if isinstance(item, str) else json.dumps(item)
                if not self._run_tasks(execution, task["tasks"], context, item_text):
                    return False
            return True
        if kind == LOOP:
            values = self.render(task["values"], context)
            values = json.loads(values) if isinstance(values, str) else values
            transmit = task.get("transmitFailed", True)
            for index, item in enumerate(values):
                item_text = item if isinstance(item, str) else json.dumps(item)
                scope = {**context, "outputs": dict(context["outputs"]), "item": {"value": item_text, "index": index}}
                if not self._run_tasks(execution, task["tasks"], scope, item_text) and transmit:
                    return False  # LoopExecutionEventMessageHandler: transmitFailed ends the loop at once
            return True
        if kind == "io.kestra.plugin.core.flow.Subflow":
            target = self.latest(task["namespace"], task["flowId"])
            if target is None:
                raise ValueError(f"Unable to find flow {task['namespace']}.{task['flowId']}")
            child = self.start(target, self.render(task.get("inputs") or {}, context), parent=execution["id"])
            self.execute(child, target)
            # Subflow.Output, core@v1.0.20: the child's id, its final state (with wait), its flow outputs.
            run["outputs"] = {
                "executionId": child["id"],
                "state": child["state"]["current"],
                "outputs": child["outputs"],
            }
            return child["state"]["current"] == "SUCCESS" or not task.get("transmitFailed", True)
        if kind == "io.kestra.plugin.core.execution.Fail":
            self._log(execution, task["id"], "ERROR", self.render(task.get("errorMessage", "Flow failed"), context))
            return False
        if kind == "io.kestra.plugin.core.log.Log":
            self._log(execution, task["id"], task.get("level", "INFO"), self.render(task["message"], context))
            return True
        if kind == "io.kestra.plugin.core.http.Request":
            response = httpx.request(
                task.get("method", "GET"),
                self.render(task["uri"], context),
                content=self.render(task.get("body", ""), context),
                headers={"Content-Type": task.get("contentType", "application/json")},
                timeout=10,
            )
            # Request.Output, core@v1.0.20; a code >= 400 fails the task unless options.allowFailed. Kestra's
            # JSON mapper leaves out nulls (JacksonMapper: Include.NON_NULL): no body, no `body` key.
            run["outputs"] = {
                "uri": str(response.url),
                "code": response.status_code,
                "headers": {k: response.headers.get_list(k) for k in response.headers},
                **({"body": response.text} if response.content else {}),
            }
            return response.status_code < 400 or bool((task.get("options") or {}).get("allowFailed"))
        raise ValueError(f"the contract server does not run {kind}")

    def _commands(
        self, execution: dict[str, Any], task: dict[str, Any], run: dict[str, Any], context: dict[str, Any]
    ) -> bool:
        runner = (task.get("taskRunner") or {}).get("type")
        if runner != "io.kestra.plugin.core.runner.Process":
            raise ValueError(f"the contract server runs only the Process task runner, not {runner}")
        workdir = Path(tempfile.mkdtemp(prefix="task-", dir=self.storage))
        env = {**self.worker_env, **{k: str(v) for k, v in self.render(task.get("env") or {}, context).items()}}
        script = "set -e\n" + "\n".join(self.render(task["commands"], context))
        timeout = seconds(task.get("timeout"))
        try:
            done = subprocess.run(
                ["/bin/sh", "-c", script], cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            self._log(execution, task["id"], "ERROR", f"Timeout after {timeout} s")
            return False
        variables: dict[str, Any] = {}
        # PluginUtilsService.parseOut (core@v1.0.20): an outputs line on either stream becomes vars;
        # any other line is logged at INFO from stdout, at ERROR from stderr.
        for lines, level in ((done.stdout.splitlines(), "INFO"), (done.stderr.splitlines(), "ERROR")):
            for line in lines:
                match = re.fullmatch(r"::(\{.*\})::", line.strip())
                if match:
                    variables.update(json.loads(match.group(1)).get("outputs", {}))
                else:
                    self._log(execution, task["id"], level, line)
        files = {}
        if done.returncode == 0:
            for name in task.get("outputFiles") or []:
                relative = (
                    f"{execution['namespace']}/{execution['flowId']}/executions/{execution['id']}/tasks/"
                    f"{task['id']}/{run['id']}/{name}"
                )
                (self.storage / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(workdir / name, self.storage / relative)
                files[name] = f"kestra:///{relative}"
        run["outputs"] = {"exitCode": done.returncode, "vars": variables, "outputFiles": files}
        if done.returncode != 0:
            self._log(execution, task["id"], "ERROR", f"Command failed with exit code {done.returncode}")
        return done.returncode == 0

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return handler_for(self)
