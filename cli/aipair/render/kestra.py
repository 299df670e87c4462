"""Catalog → the Kestra flows that keep components current. Pure: no I/O, no clock.

Two flows, both calling aipair itself, so Kestra only schedules and records:

- ``validate-candidate`` (inputs ``service``, ``version``): clone the repository that holds the
  catalog, ``aipair upgrade validate`` in a throw-away stack, keep the JSON report as an output,
  then propose the upgrade (a pushed branch with ``aipair upgrade apply``, or a webhook) or fail,
  which runs the ``errors`` branch (a webhook notification and an error log).
- ``watch-versions``: a Schedule trigger runs ``aipair upgrade check`` and starts the validation
  flow once per candidate (a Subflow per value of a ForEach, or of a Loop from Kestra 2.0).

The flows render for the Kestra version the catalog deploys (``kestra_version``): the tag of the
``project.kestra.server.service`` image, or ``project.kestra.version``. What differs, from Kestra's
sources (io.kestra:core sources jar at 1.0.20 and 2.0.0):

- 2.0 removed ``io.kestra.plugin.core.flow.ForEach`` (and EachParallel, EachSequential, ForEachItem,
  Template); ``Loop`` replaces it (core@v2.0.0 io/kestra/plugin/core/flow/Loop.java). Each iteration
  runs as its own sub-execution and sees its value as ``item.value`` (RunVariables, core@v2.0.0), not
  ``taskrun.value``; ``transmitFailed`` (default true) ends the loop at the first failed iteration
  (LoopExecutionEventMessageHandler, executor@v2.0.0), so it is rendered false: one rejected candidate
  does not stop the others (the Subflow's own ``transmitFailed: false`` already keeps a failed
  validation from failing its iteration; this also covers a Subflow that cannot start).
- Exponential retries: the same properties, other waits (Exponential.nextRetryDate): 1.x waits
  interval*2*(n-1) after the n-th failure (the first retry is immediate, the second after 60 s here),
  2.0 waits interval*2^(n-1) (30 s, then 60 s), both capped at maxInterval; 2.0 also requires
  interval < maxInterval, which PT30S < PT5M meets.
- 2.0 validates label keys (``^[\\p{Ll}][\\p{L}0-9._-]*$``, core@v2.0.0 Label.java); the keys below pass.
- Unchanged and used here: Commands/Process/Docker task runner properties, If, Subflow (``wait``,
  ``transmitFailed``, ``inputs``), Fail, Log, http Request, Schedule (``cron``, ``timezone``), flow
  ``concurrency``, STRING inputs with ``validator``, FILE outputs, ``errors``, and the Pebble functions
  ``read``, ``fromJson`` and ``secret`` (Extension.java at both versions).

The flows are code: they carry the ``system.readOnly`` label (Label.READ_ONLY, core@v1.0.20 and
v2.0.0; the only system label FlowValidator accepts in a flow's source), which disables the flow
editor in Kestra's UI (kestra.io/docs/concepts/system-labels); ``aipair flows status`` reports any
edit made anyway.

Only current task types are used (``io.kestra.plugin.core.*`` and ``io.kestra.plugin.scripts.*``).
Values from inputs and the catalog reach the shell through ``env``, never spliced into a command
line, so a hostile input cannot inject shell code.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from ..catalog.images import ImageRef
from ..catalog.model import Catalog
from ..catalog.settings import GIT_ALLOW_PROTOCOL, KestraSettings

VALIDATE_FLOW = "validate-candidate"
WATCH_FLOW = "watch-versions"
# Registration order: a Subflow's target must exist before the flow that calls it.
FLOW_ORDER = (VALIDATE_FLOW, WATCH_FLOW)

COMMANDS = "io.kestra.plugin.scripts.shell.Commands"
PROCESS_RUNNER = "io.kestra.plugin.core.runner.Process"
DOCKER_RUNNER = "io.kestra.plugin.scripts.runner.docker.Docker"

# Exit codes of aipair the flows rely on (see `aipair upgrade --help`).
CANDIDATES_FOUND = 10
CANDIDATE_FAILED = 1

# The upgrade ledger beside the catalog (ops/upgrade/ledger.py LEDGER; render sits below ops, so it is named
# twice and a unit test holds the two together). The validate task hands the records its run appended to the
# propose task (base64 in an output variable: each task clones the repository afresh), which appends them to
# its own clone before `upgrade apply` looks for the passing record, and commits them with the change.
LEDGER_FILE = "upgrade-ledger.jsonl"

FOR_EACH = "io.kestra.plugin.core.flow.ForEach"  # Kestra < 2.0
LOOP = "io.kestra.plugin.core.flow.Loop"  # Kestra >= 2.0
DEFAULT_VERSION = (1, 0)  # without a Kestra service or project.kestra.version
READ_ONLY_LABEL = "system.readOnly"  # io.kestra.core.models.Label.READ_ONLY

SERVICE_PATTERN = "^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
VERSION_PATTERN = "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"


class KestraVersionUnknown(ValueError):
    """The Kestra service's image tag names no release (latest, develop): the flows' form is unknown."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


_RELEASE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")


def kestra_version(catalog: Catalog) -> tuple[int, ...]:
    """The Kestra release the flows are rendered for: project.kestra.version, else the server service's
    image tag (kestra/kestra:v1.0.4 → (1, 0, 4)), else DEFAULT_VERSION when Kestra is not in the catalog."""
    settings = catalog.project.kestra
    if settings is None:
        return DEFAULT_VERSION
    if settings.version is not None:
        return _release(settings.version) or DEFAULT_VERSION  # the setting's pattern guarantees a release
    service = catalog.services.get(settings.server.service)
    if service is None:
        return DEFAULT_VERSION
    tag = ImageRef.parse(service.image).tag or "latest"
    release = _release(tag)
    if release is None:
        raise KestraVersionUnknown(
            f"services.{settings.server.service}.image",
            f"the tag {tag!r} names no Kestra release, so the flows' form is unknown (ForEach before 2.0, "
            "Loop from 2.0): pin a release tag such as v1.0.20, or set project.kestra.version",
        )
    return release


def _release(tag: str) -> tuple[int, ...] | None:
    match = _RELEASE.match(tag)
    return tuple(int(part) for part in match.groups() if part is not None) if match else None


def render_kestra_flows(catalog: Catalog, *, runner: str | None = None) -> dict[str, dict[str, Any]]:
    """Flow id → flow document, in registration order. Empty when the catalog has no kestra settings.

    ``runner`` overrides the catalog's task runner (``process`` for local use and tests).
    """
    settings = catalog.project.kestra
    if settings is None:
        return {}
    if runner is not None:
        settings = settings.model_copy(update={"runner": runner})
    namespace = catalog.project.kestra_namespace
    version = kestra_version(catalog)
    return {
        VALIDATE_FLOW: _validate_flow(catalog, settings, namespace),
        WATCH_FLOW: _watch_flow(catalog, settings, namespace, version),
    }


def _labels(catalog: Catalog) -> dict[str, str]:
    # The value is the string "true", as the UI compares it (a YAML boolean would be turned into it too:
    # ListOrMapOfLabelDeserializer, core@v1.0.20).
    return {"managed-by": "aipair", "project": catalog.project.name, READ_ONLY_LABEL: "true"}


def _task_runner(settings: KestraSettings) -> dict[str, Any]:
    if settings.runner == "process":
        return {"taskRunner": {"type": PROCESS_RUNNER}}
    # The validation starts containers: the task talks to the host's engine through its socket.
    return {
        "taskRunner": {"type": DOCKER_RUNNER, "volumes": ["/var/run/docker.sock:/var/run/docker.sock"]},
        "containerImage": settings.task_image,
    }


def _retry(settings: KestraSettings) -> dict[str, Any]:
    if settings.retries == 0:
        return {}
    return {
        "retry": {
            "type": "exponential",
            "interval": "PT30S",
            "maxInterval": "PT5M",
            "maxAttempts": settings.retries + 1,
            "warningOnRetry": True,
        }
    }


# git asks this helper for the repository's credentials (only for its scheme://host, set by the config key):
# it answers from the environment, so the token is in no URL, file or command line. `$1` is git's action.
CREDENTIAL_HELPER = (
    '!f() { test "$1" = get && echo "username=$AIPAIR_GIT_USER" && echo "password=$AIPAIR_GIT_TOKEN"; }; f'
)


def _repository_env(settings: KestraSettings) -> dict[str, str]:
    """Where the repository is, for the shell; git limited to the usual protocols and never prompting."""
    env = {
        "AIPAIR_REPOSITORY": settings.repository,
        "AIPAIR_BRANCH": settings.branch,
        "AIPAIR_CATALOG": f"repo/{settings.catalog_path}",
        "GIT_ALLOW_PROTOCOL": GIT_ALLOW_PROTOCOL,
        "GIT_TERMINAL_PROMPT": "0",
    }
    token = settings.repository_token
    if token is not None:
        # Kestra renders secret() when the task starts (and masks the value in its logs).
        env |= {
            "AIPAIR_GIT_USER": token.username,
            "AIPAIR_GIT_TOKEN": f"{{{{ secret('{token.secret}') }}}}",
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"credential.{settings.repository_origin}.helper",
            "GIT_CONFIG_VALUE_0": CREDENTIAL_HELPER,
        }
    return env


# `--` ends git's options: the repository is never read as one, whatever it holds.
CLONE = 'git clone --quiet --depth 1 --branch "$AIPAIR_BRANCH" -- "$AIPAIR_REPOSITORY" repo'


def _ledger(settings: KestraSettings) -> str:
    """The ledger's path in the clone (``repo/``, as AIPAIR_CATALOG): beside the catalog."""
    return posixpath.join("repo", posixpath.dirname(settings.catalog_path), LEDGER_FILE)


def _validate_flow(catalog: Catalog, settings: KestraSettings, namespace: str) -> dict[str, Any]:
    env = {
        **_repository_env(settings),
        "AIPAIR_LEDGER": _ledger(settings),
        "SERVICE": "{{ inputs.service }}",
        "VERSION": "{{ inputs.version }}",
    }
    validate = {
        "id": "validate",
        "type": COMMANDS,
        "description": "Start the candidate with its dependencies in a throw-away stack, wait for health, "
        "run the smoke tests. A failing candidate is a verdict, not an error; only "
        "infrastructure failures (exit codes above 1) fail this task and are retried.",
        **_task_runner(settings),
        "timeout": f"PT{settings.validate_timeout + 300}S",
        **_retry(settings),
        "env": env,
        "outputFiles": ["report.json"],
        "commands": [
            CLONE,
            "rc=0",
            'lines=0; if [ -f "$AIPAIR_LEDGER" ]; then lines=$(wc -l < "$AIPAIR_LEDGER"); fi',
            f'aipair upgrade validate "$SERVICE" "$VERSION" --catalog "$AIPAIR_CATALOG" '
            f"--timeout {settings.validate_timeout} --report report.json || rc=$?",
            f'if [ "$rc" -gt {CANDIDATE_FAILED} ]; then exit "$rc"; fi',
            'if [ "$rc" -eq 0 ]; then verdict=passed; else verdict=failed; fi',
            # the ledger records this run appended, for the propose task's clone
            'attestation=""; if [ -f "$AIPAIR_LEDGER" ]; then '
            'attestation=$(tail -n "+$((lines + 1))" "$AIPAIR_LEDGER" | base64 | tr -d "\\n"); fi',
            """echo '::{"outputs":{"verdict":"'"$verdict"'","attestation":"'"$attestation"'"}}::'""",
        ],
    }
    reject = {
        "id": "reject",
        "type": "io.kestra.plugin.core.execution.Fail",
        "errorMessage": "{{ inputs.service }} {{ inputs.version }} failed validation: see the report output",
    }
    return {
        "id": VALIDATE_FLOW,
        "namespace": namespace,
        "description": f"Validate one candidate version of a component of {catalog.project.name} in a "
        "throw-away stack, then propose the upgrade or report the failure. Rendered by aipair "
        "from the catalog: change the catalog, not this flow.",
        "labels": _labels(catalog),
        "inputs": [
            {
                "id": "service",
                "type": "STRING",
                "description": "Service name, as in the catalog.",
                "validator": SERVICE_PATTERN,
            },
            {
                "id": "version",
                "type": "STRING",
                "description": "Candidate tag, as `aipair upgrade check` reports it.",
                "validator": VERSION_PATTERN,
            },
        ],
        "concurrency": {"limit": settings.concurrency, "behavior": "QUEUE"},
        "tasks": [
            validate,
            {
                "id": "decide",
                "type": "io.kestra.plugin.core.flow.If",
                "condition": "{{ outputs.validate.vars.verdict == 'passed' }}",
                "then": _proposal(catalog, settings),
                "else": [reject],
            },
        ],
        "errors": _failure_branch(settings),
        "outputs": [
            {
                "id": "report",
                "type": "FILE",
                "description": "The JSON report of `aipair upgrade validate`.",
                "value": "{{ outputs.validate.outputFiles['report.json'] }}",
            },
            {"id": "verdict", "type": "STRING", "value": "{{ outputs.validate.vars.verdict }}"},
        ],
    }


def _proposal(catalog: Catalog, settings: KestraSettings) -> list[dict[str, Any]]:
    if settings.propose == "none":
        return [
            {
                "id": "passed",
                "type": "io.kestra.plugin.core.log.Log",
                "message": "{{ inputs.service }} {{ inputs.version }} passed validation",
            }
        ]
    if settings.propose == "webhook":
        return [_webhook("propose", settings, "passed validation: ready to upgrade")]
    env = {
        **_repository_env(settings),
        "AIPAIR_LEDGER": _ledger(settings),
        "AIPAIR_ATTESTATION": "{{ outputs.validate.vars.attestation }}",
        "SERVICE": "{{ inputs.service }}",
        "VERSION": "{{ inputs.version }}",
    }
    author = f"-c user.name=aipair -c user.email=aipair@{catalog.project.domain}"
    return [
        {
            "id": "propose",
            "type": COMMANDS,
            "description": "Pin the candidate (with its digest) in the catalog on a new branch, re-render every "
            "output, commit it with the validation's record in the upgrade ledger and push the branch for review.",
            **_task_runner(settings),
            **_retry(settings),
            "env": env,
            "commands": [
                'git clone --quiet --branch "$AIPAIR_BRANCH" -- "$AIPAIR_REPOSITORY" repo',
                'branch="aipair/upgrade-$SERVICE-$VERSION"',
                'git -C repo checkout --quiet -b "$branch"',
                # the validate task's records: `upgrade apply` pins the digest only with its passing record
                'printf %s "$AIPAIR_ATTESTATION" | base64 -d >> "$AIPAIR_LEDGER"',
                'aipair upgrade apply "$SERVICE" "$VERSION" --catalog "$AIPAIR_CATALOG" --json > apply.json',
                "git -C repo add --all",
                'git -C repo add -- "${AIPAIR_LEDGER#repo/}"',
                f'git -C repo {author} commit --quiet -m "Upgrade $SERVICE to $VERSION (validated by Kestra '
                'execution {{ execution.id }})"',
                'git -C repo push --quiet --force origin "$branch"',
                """echo '::{"outputs":{"branch":"'"$branch"'"}}::'""",
            ],
        }
    ]


def _webhook(task_id: str, settings: KestraSettings, what: str) -> dict[str, Any]:
    body = (
        '{"project": "{{ flow.namespace }}", "service": "{{ inputs.service }}", '
        '"version": "{{ inputs.version }}", "result": "' + what + '", "execution": "{{ execution.id }}"}'
    )
    return {
        "id": task_id,
        "type": "io.kestra.plugin.core.http.Request",
        "uri": f"{{{{ secret('{settings.notify_secret}') }}}}",
        "method": "POST",
        "contentType": "application/json",
        "body": body,
        **_retry(settings),
    }


def _failure_branch(settings: KestraSettings) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = [
        {
            "id": "log-failure",
            "type": "io.kestra.plugin.core.log.Log",
            "level": "ERROR",
            "message": "{{ inputs.service }} {{ inputs.version }} was not upgraded (execution {{ execution.id }})",
        }
    ]
    if settings.notify_secret:
        tasks.append(_webhook("notify-failure", settings, "failed validation"))
    return tasks


def _watch_flow(catalog: Catalog, settings: KestraSettings, namespace: str, version: tuple[int, ...]) -> dict[str, Any]:
    check = {
        "id": "check",
        "type": COMMANDS,
        "description": "Ask each image's registry for newer tags allowed by the service's upgrade policy.",
        **_task_runner(settings),
        **_retry(settings),
        "env": _repository_env(settings),
        "outputFiles": ["check.json", "candidates.json"],
        "commands": [
            CLONE,
            "rc=0",
            'aipair upgrade check --catalog "$AIPAIR_CATALOG" --json --candidates-file candidates.json '
            "> check.json || rc=$?",
            f'if [ "$rc" -ne 0 ] && [ "$rc" -ne {CANDIDATES_FOUND} ]; then cat check.json; exit "$rc"; fi',
        ],
    }
    # Each candidate is a JSON object; ForEach exposes it as taskrun.value, Loop as item.value. A lockstep group is
    # ONE candidate (one member, ops/upgrade/check.due_candidates): validating a member validates the group.
    value = "taskrun.value" if version < (2, 0) else "item.value"
    validate = {
        "id": "validate",
        "type": "io.kestra.plugin.core.flow.Subflow",
        "namespace": namespace,
        "flowId": VALIDATE_FLOW,
        "inputs": {
            "service": f"{{{{ fromJson({value}).service }}}}",
            "version": f"{{{{ fromJson({value}).version }}}}",
        },
        "wait": True,
        # One rejected candidate must not stop the others; each validation reports its own failure.
        "transmitFailed": False,
    }
    each: dict[str, Any] = {
        "id": "each-candidate",
        "type": FOR_EACH if version < (2, 0) else LOOP,
        "values": "{{ read(outputs.check.outputFiles['candidates.json']) }}",
        "concurrencyLimit": settings.concurrency,
    }
    if version >= (2, 0):
        each["transmitFailed"] = False  # Loop: a failed iteration would otherwise end the loop at once
    each["tasks"] = [validate]
    return {
        "id": WATCH_FLOW,
        "namespace": namespace,
        "description": f"Find new versions of the {catalog.project.name} components on a schedule and validate "
        f"each candidate with {VALIDATE_FLOW}. Rendered by aipair from the catalog.",
        "labels": _labels(catalog),
        "tasks": [check, each],
        "triggers": [
            {
                "id": "schedule",
                "type": "io.kestra.plugin.core.trigger.Schedule",
                "cron": settings.schedule,
                "timezone": settings.timezone,
            }
        ],
    }
