"""A Kubernetes cluster, read through the official ``kubernetes`` client. The only module that imports it
(lazily: `aipair --help` and phase mvp never pay for it).

It reads one namespace and changes nothing: its Deployments, StatefulSets and Jobs, their Pods, the
HorizontalPodAutoscalers, and the recent Warning events (core/v1, which holds the new-style events of the
scheduler and the old-style ones of the controller manager and kubelet alike). What comes out is plain frozen dataclasses:
nothing of the client's models crosses the boundary.

The connection is the user's own: ``--kubeconfig`` / ``--context``, else $KUBECONFIG or ~/.kube/config, else
the in-cluster service account. The kubeconfig is never written back (``persist_config=False``: the client
would otherwise store refreshed tokens into it). Every request has a timeout and no retries, so a cluster
that does not answer is reported in seconds; each failure becomes an aipair error saying what to change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..errors import AipairError, Unavailable, UsageError, suggest

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
EVENTS_LIMIT = 20
EVENTS_PER_REASON = 5
EVENTS_WINDOW = timedelta(hours=1)


class KubeUnavailable(Unavailable):
    """The cluster cannot be reached, or refuses our credentials: nothing was read."""


class KubeConfigError(UsageError):
    """No usable kubeconfig or context: say which option to pass."""


# --- what is read ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str


@dataclass(frozen=True)
class ContainerState:
    """One container of a pod as the kubelet reported it (``state`` of its last status)."""

    name: str
    init: bool
    ready: bool
    restarts: int
    state: Literal["waiting", "running", "terminated", "unknown"]
    reason: str
    message: str
    exit_code: int | None


@dataclass(frozen=True)
class Pod:
    name: str
    phase: str
    labels: dict[str, str]
    conditions: tuple[Condition, ...]
    containers: tuple[ContainerState, ...]
    deleting: bool
    created: datetime | None


@dataclass(frozen=True)
class SelectorRequirement:
    key: str
    operator: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Selector:
    """A workload's ``spec.selector``: which pods are its own."""

    match_labels: dict[str, str]
    match_expressions: tuple[SelectorRequirement, ...]


@dataclass(frozen=True)
class Workload:
    """A Deployment, StatefulSet or Job with its spec's wishes and its status's counts.

    For a Job ``desired`` is ``spec.completions`` (1 when unset) and the job counts are set; for the others
    ``ready``/``updated``/``available`` are the replica counts (``available`` is the ready count for a
    StatefulSet older servers do not report it for)."""

    kind: Literal["Deployment", "StatefulSet", "Job"]
    name: str
    selector: Selector
    generation: int
    observed_generation: int
    desired: int
    updated: int
    ready: int
    available: int
    conditions: tuple[Condition, ...]
    succeeded: int = 0
    failed: int = 0
    active: int = 0


@dataclass(frozen=True)
class Metric:
    """One HPA metric: its name (``cpu``, ``memory``, a pods/object/external metric) and the values as text."""

    name: str
    current: str
    target: str


@dataclass(frozen=True)
class Autoscaler:
    name: str
    target_kind: str
    target_name: str
    min_replicas: int
    max_replicas: int
    current_replicas: int
    desired_replicas: int
    metrics: tuple[Metric, ...]
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Event:
    """A Warning event about one object: ``count`` occurrences, the last at ``last_seen``."""

    kind: str
    name: str
    reason: str
    message: str
    count: int
    last_seen: datetime | None


@dataclass(frozen=True)
class Snapshot:
    """One namespace as read at ``read_at``."""

    server: str
    context: str
    namespace: str
    read_at: datetime
    workloads: tuple[Workload, ...]
    pods: tuple[Pod, ...]
    autoscalers: tuple[Autoscaler, ...]
    events: tuple[Event, ...]
    events_total: int  # Warning events within the window, of which ``events`` shows the newest


# --- connecting --------------------------------------------------------------------------------------------

HOW_TO_POINT = (
    "pass --kubeconfig PATH (and --context NAME), or set KUBECONFIG, or write ~/.kube/config "
    "(for example with your provider's `get-credentials` command)"
)


def _kubeconfig_files(kubeconfig: Path | None) -> list[Path]:
    if kubeconfig is not None:
        return [kubeconfig]
    listed = os.environ.get("KUBECONFIG", "")
    if listed:
        return [Path(p).expanduser() for p in listed.split(os.pathsep) if p]
    return [Path("~/.kube/config").expanduser()]


def _in_cluster() -> bool:
    return (
        bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
        and Path("/var/run/secrets/kubernetes.io/serviceaccount/token").exists()
    )


def connect(kubeconfig: Path | None, context: str | None) -> tuple[ApiClient, str]:
    """An ApiClient for the chosen kubeconfig and context (or in-cluster) and the context's name."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    files = _kubeconfig_files(kubeconfig)
    present = [f for f in files if f.is_file()]
    if kubeconfig is not None and not present:
        raise KubeConfigError(f"--kubeconfig {kubeconfig}: no such file; {HOW_TO_POINT}")
    if not present:
        if context is None and _in_cluster():
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            return _bounded(client.ApiClient(configuration)), "(in-cluster)"
        raise KubeConfigError(f"no kubeconfig found (looked at {', '.join(str(f) for f in files)}): {HOW_TO_POINT}")
    config_file = os.pathsep.join(str(f) for f in present)
    names, current = _contexts(present)
    chosen = context or current
    if not chosen:
        raise KubeConfigError(f"{config_file} names no current context: pass --context NAME{suggest('', names)}")
    if chosen not in names:
        raise KubeConfigError(f"no context {chosen!r} in {config_file}{suggest(chosen, names)}")
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=config_file, context=chosen, client_configuration=configuration, persist_config=False
        )
    except (ConfigException, OSError, ValueError) as exc:
        raise KubeConfigError(f"{config_file}, context {chosen}: {exc}; {HOW_TO_POINT}") from None
    return _bounded(client.ApiClient(configuration)), chosen


def _contexts(files: list[Path]) -> tuple[list[str], str]:
    """The context names of the kubeconfig files and the current context, merged as kubectl merges
    $KUBECONFIG (the first file that sets current-context wins)."""
    import yaml

    names: list[str] = []
    current = ""
    for path in files:
        try:
            document = yaml.safe_load(path.read_text())
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise KubeConfigError(f"{path}: not a readable kubeconfig: {_short(exc)}; {HOW_TO_POINT}") from None
        if not isinstance(document, dict):
            raise KubeConfigError(f"{path}: not a kubeconfig (expected a mapping with contexts); {HOW_TO_POINT}")
        for entry in document.get("contexts") or []:
            if isinstance(entry, dict) and entry.get("name"):
                names.append(str(entry["name"]))
        current = current or str(document.get("current-context") or "")
    return names, current


def _bounded(api: ApiClient) -> ApiClient:
    api.configuration.retries = 0  # a closed port or a dead host is reported now, not after urllib3's retries
    return api


# --- reading -----------------------------------------------------------------------------------------------


def read_namespace(
    kubeconfig: Path | None,
    context: str | None,
    namespace: str,
    *,
    events_limit: int = EVENTS_LIMIT,
    events_window: timedelta = EVENTS_WINDOW,
) -> Snapshot:
    """Read ``namespace``'s workloads, pods, autoscalers and the newest Warning events (at most
    ``events_limit``, seen within ``events_window``)."""
    import urllib3
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    api, context_name = connect(kubeconfig, context)
    server = str(api.configuration.host)
    timeout = (CONNECT_TIMEOUT, READ_TIMEOUT)
    try:
        with api:
            core, apps, batch = client.CoreV1Api(api), client.AppsV1Api(api), client.BatchV1Api(api)
            scaling = client.AutoscalingV2Api(api)
            _require_namespace(core, namespace, server, timeout)
            workloads = (
                *(_replicated(d) for d in apps.list_namespaced_deployment(namespace, _request_timeout=timeout).items),
                *(_replicated(s) for s in apps.list_namespaced_stateful_set(namespace, _request_timeout=timeout).items),
                *(_job(j) for j in batch.list_namespaced_job(namespace, _request_timeout=timeout).items),
            )
            pods = tuple(_pod(p) for p in core.list_namespaced_pod(namespace, _request_timeout=timeout).items)
            autoscalers = tuple(
                _autoscaler(h)
                for h in scaling.list_namespaced_horizontal_pod_autoscaler(namespace, _request_timeout=timeout).items
            )
            now = datetime.now(UTC)
            warnings = [
                _event(e)
                for e in core.list_namespaced_event(
                    namespace, field_selector="type=Warning", _request_timeout=timeout
                ).items
            ]
    except ApiException as exc:
        raise _api_error(exc, server, context_name, namespace) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise KubeUnavailable(
            f"the Kubernetes API server at {server} (context {context_name}) cannot be reached: {_short(exc)}; "
            f"check that the cluster is up and that --kubeconfig/--context point at it"
        ) from None
    recent = [e for e in warnings if e.last_seen is None or now - e.last_seen <= events_window]
    return Snapshot(
        server=server,
        context=context_name,
        namespace=namespace,
        read_at=now,
        workloads=tuple(sorted(workloads, key=lambda w: (w.kind, w.name))),
        pods=tuple(sorted(pods, key=lambda p: p.name)),
        autoscalers=tuple(sorted(autoscalers, key=lambda a: a.name)),
        events=newest_events(recent, now, events_limit),
        events_total=len(recent),
    )


def newest_events(
    events: list[Event], now: datetime, limit: int, per_reason: int = EVENTS_PER_REASON
) -> tuple[Event, ...]:
    """The newest ``limit`` events, newest first, with at most ``per_reason`` of one reason while others wait:
    without a metrics server every HPA repeats FailedGetResourceMetric every 15 s, which would otherwise
    push the scheduler's FailedScheduling (the one that says why nothing runs) out of view."""
    newest = sorted(events, key=lambda e: e.last_seen or now, reverse=True)
    taken: list[Event] = []
    counts: dict[str, int] = {}
    for event in newest:
        if len(taken) < limit and counts.get(event.reason, 0) < per_reason:
            taken.append(event)
            counts[event.reason] = counts.get(event.reason, 0) + 1
    rest = [e for e in newest if e not in taken]
    taken += rest[: limit - len(taken)]
    return tuple(sorted(taken, key=lambda e: e.last_seen or now, reverse=True))


def _require_namespace(core: object, namespace: str, server: str, timeout: tuple[float, float]) -> None:
    """A missing namespace would read as an empty one: say so instead. A user who may not read namespaces
    (403, common for namespace-scoped credentials) is let through: the lists below tell."""
    from kubernetes.client import CoreV1Api
    from kubernetes.client.exceptions import ApiException

    assert isinstance(core, CoreV1Api)
    try:
        core.read_namespace(namespace, _request_timeout=timeout)
    except ApiException as exc:
        if exc.status == 404:
            raise UsageError(
                f"namespace {namespace!r} does not exist on {server}: nothing of this catalog is deployed there "
                f"(deploy it, or point --kubeconfig/--context at the cluster that has it)"
            ) from None
        if exc.status != 403:
            raise


def _short(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    text = str(reason or exc)
    return text if len(text) <= 300 else text[:300] + "…"


def _api_error(exc: object, server: str, context: str, namespace: str) -> AipairError:
    from kubernetes.client.exceptions import ApiException

    assert isinstance(exc, ApiException)
    where = f"{server} (context {context})"
    if exc.status == 401:
        return KubeUnavailable(
            f"{where} refused our credentials (401 Unauthorized): renew the token or certificate in the kubeconfig"
        )
    if exc.status == 403:
        return KubeUnavailable(
            f"{where}: not allowed to read namespace {namespace} (403 Forbidden): these credentials need get/list "
            f"on deployments, statefulsets, jobs, pods, horizontalpodautoscalers and events there"
        )
    return KubeUnavailable(f"{where} answered {exc.status} {exc.reason}: {_short(Exception(exc.body or ''))}")


# --- from the client's models to ours ----------------------------------------------------------------------


def _conditions(items: object) -> tuple[Condition, ...]:
    return tuple(
        Condition(
            type=str(getattr(c, "type", "") or ""),
            status=str(getattr(c, "status", "") or ""),
            reason=str(getattr(c, "reason", "") or ""),
            message=str(getattr(c, "message", "") or ""),
        )
        for c in (items if isinstance(items, list) else [])
    )


def _selector(selector: object) -> Selector:
    labels = getattr(selector, "match_labels", None) or {}
    expressions = getattr(selector, "match_expressions", None) or []
    return Selector(
        match_labels={str(k): str(v) for k, v in labels.items()},
        match_expressions=tuple(
            SelectorRequirement(str(e.key), str(e.operator), tuple(str(v) for v in e.values or [])) for e in expressions
        ),
    )


def _replicated(item: object) -> Workload:
    """A Deployment or a StatefulSet: the two report their replicas under the same names."""
    from kubernetes.client import V1Deployment, V1StatefulSet

    assert isinstance(item, V1Deployment | V1StatefulSet) and item.metadata and item.spec
    status = item.status
    return Workload(
        kind="Deployment" if isinstance(item, V1Deployment) else "StatefulSet",
        name=str(item.metadata.name),
        selector=_selector(item.spec.selector),
        generation=item.metadata.generation or 0,
        observed_generation=(status.observed_generation if status else None) or 0,
        desired=item.spec.replicas if item.spec.replicas is not None else 1,
        updated=(status.updated_replicas if status else None) or 0,
        ready=(status.ready_replicas if status else None) or 0,
        available=(status.available_replicas if status else None) or 0,
        conditions=_conditions(status.conditions if status else None),
    )


def _job(item: object) -> Workload:
    from kubernetes.client import V1Job

    assert isinstance(item, V1Job) and item.metadata and item.spec
    status = item.status
    return Workload(
        kind="Job",
        name=str(item.metadata.name),
        selector=_selector(item.spec.selector),
        generation=item.metadata.generation or 0,
        observed_generation=item.metadata.generation or 0,  # Jobs report no observedGeneration
        desired=item.spec.completions if item.spec.completions is not None else 1,
        updated=0,
        ready=(status.ready if status else None) or 0,
        available=0,
        conditions=_conditions(status.conditions if status else None),
        succeeded=(status.succeeded if status else None) or 0,
        failed=(status.failed if status else None) or 0,
        active=(status.active if status else None) or 0,
    )


def _container(status: object, init: bool) -> ContainerState:
    from kubernetes.client import V1ContainerStatus

    assert isinstance(status, V1ContainerStatus)
    state = status.state
    kind: Literal["waiting", "running", "terminated", "unknown"] = "unknown"
    reason = message = ""
    exit_code: int | None = None
    if state and state.waiting:
        kind, reason, message = "waiting", state.waiting.reason or "", state.waiting.message or ""
    elif state and state.terminated:
        kind, reason, message = "terminated", state.terminated.reason or "", state.terminated.message or ""
        exit_code = state.terminated.exit_code
    elif state and state.running:
        kind = "running"
    return ContainerState(
        name=status.name,
        init=init,
        ready=bool(status.ready),
        restarts=status.restart_count or 0,
        state=kind,
        reason=reason,
        message=message,
        exit_code=exit_code,
    )


def _pod(item: object) -> Pod:
    from kubernetes.client import V1Pod

    assert isinstance(item, V1Pod) and item.metadata
    status = item.status
    containers = (
        *(_container(c, True) for c in (status.init_container_statuses if status else None) or []),
        *(_container(c, False) for c in (status.container_statuses if status else None) or []),
    )
    return Pod(
        name=str(item.metadata.name),
        phase=(status.phase if status else None) or "Unknown",
        labels={str(k): str(v) for k, v in (item.metadata.labels or {}).items()},
        conditions=_conditions(status.conditions if status else None),
        containers=containers,
        deleting=item.metadata.deletion_timestamp is not None,
        created=item.metadata.creation_timestamp,
    )


def _quantity(value: object) -> str:
    return "" if value is None else str(value)


def _metric_target(target: object) -> str:
    """An HPA target or current value as people write it: ``70%``, ``500m`` (average), ``10`` (value)."""
    if target is None:
        return ""
    utilization = getattr(target, "average_utilization", None)
    if utilization is not None:
        return f"{utilization}%"
    average = getattr(target, "average_value", None)
    if average is not None:
        return f"{_quantity(average)} (average)"
    return _quantity(getattr(target, "value", None))


def _metric_name(spec: object) -> str:
    kind = str(getattr(spec, "type", "") or "")
    for attribute in ("resource", "container_resource"):
        source = getattr(spec, attribute, None)
        if source is not None:
            return str(source.name)
    for attribute in ("pods", "object", "external"):
        source = getattr(spec, attribute, None)
        if source is not None and getattr(source, "metric", None) is not None:
            return str(source.metric.name)
    return kind or "metric"


def _metric_values(spec: object, field: str) -> object:
    for attribute in ("resource", "container_resource", "pods", "object", "external"):
        source = getattr(spec, attribute, None)
        if source is not None:
            return getattr(source, field, None)
    return None


def _autoscaler(item: object) -> Autoscaler:
    from kubernetes.client import V2HorizontalPodAutoscaler

    assert isinstance(item, V2HorizontalPodAutoscaler) and item.metadata and item.spec
    status = item.status
    current = {
        _metric_name(m): _metric_target(_metric_values(m, "current"))
        for m in (status.current_metrics if status else None) or []
    }
    metrics = tuple(
        Metric(
            name=_metric_name(m),
            current=current.get(_metric_name(m), ""),
            target=_metric_target(_metric_values(m, "target")),
        )
        for m in item.spec.metrics or []
    )
    return Autoscaler(
        name=str(item.metadata.name),
        target_kind=item.spec.scale_target_ref.kind,
        target_name=item.spec.scale_target_ref.name,
        min_replicas=item.spec.min_replicas if item.spec.min_replicas is not None else 1,
        max_replicas=item.spec.max_replicas,
        current_replicas=(status.current_replicas if status else None) or 0,
        desired_replicas=(status.desired_replicas if status else None) or 0,
        metrics=metrics,
        conditions=_conditions(status.conditions if status else None),
    )


def _event(item: object) -> Event:
    """An event in its core/v1 shape. (Not events.k8s.io/v1: the client's model of it requires ``eventTime``,
    which the server leaves null for every event written through core/v1, the controller manager's included.)
    A new-style event (the scheduler's) counts in ``series``; an old-style one in ``count``/``lastTimestamp``."""
    from kubernetes.client import CoreV1Event

    assert isinstance(item, CoreV1Event)
    series = item.series
    seen = (
        (series.last_observed_time if series else None)
        or item.last_timestamp
        or item.event_time
        or item.metadata.creation_timestamp
    )
    count = (series.count if series else None) or item.count or 1
    regarding = item.involved_object
    return Event(
        kind=str(regarding.kind or ""),
        name=str(regarding.name or ""),
        reason=item.reason or "",
        message=item.message or "",
        count=count,
        last_seen=seen,
    )
