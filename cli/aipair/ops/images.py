"""What the catalog assumes about each image, checked against what the registry says the image is.

`aipair images inspect` shows one image's facts; `aipair catalog verify --images` checks, per service,
that linux/amd64 is offered, the health check's program is on the image's PATH, the catalog's ports are
exposed (or listed as known differences), `runs_as_root` matches the user the image runs as, and each
volume path exists or can be made by that user. The checks are pure functions of the catalog and an
``ImageFacts``; reading the registry is the inspector's job (engines/image_inspect.py), passed in so the
use cases do not care where the facts come from.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field

from ..catalog.images import ImageRef
from ..catalog.model import Catalog, Service
from ..catalog.probes import CommandHealth, HttpHealth, TcpHealth
from ..engines.image_facts import PLATFORM, PROBE_PROGRAMS, ImageFacts, PathInfo
from ..errors import Unavailable, UsageError, suggest
from ..redact import redact_urls_in
from ..results import Result
from .callbacks import Progress, no_progress

# --- what the inspector is asked, and what it answers ---------------------------------------------


class ImageRequest(BaseModel):
    """One image to inspect: the programs to look up on its PATH and the paths to stat (with ancestors).
    ``service`` is the one service that runs it, None for an image asked by reference or shared."""

    service: str | None
    image: str
    programs: list[str]
    paths: list[str]


class InspectFailure(BaseModel):
    """An image that could not be inspected (registry down, credentials refused, bounds hit): its message."""

    image: str
    error: str


# One answer per request, in the order asked. A failure is per image: the others are still checked.
Inspector = Callable[[list[ImageRequest]], list[ImageFacts | InspectFailure]]


def registry_inspector() -> Inspector:
    """The inspector the CLI uses: the registry engine (engines/image_inspect.py) with the disk cache, and the
    user's `docker login` credentials. Each image's error stays its own answer."""
    from ..engines.image_cache import ImageCache
    from ..engines.image_inspect import inspect_images

    def inspect(requests: list[ImageRequest]) -> list[ImageFacts | InspectFailure]:
        answers = inspect_images([(r.image, r.programs, r.paths) for r in requests], cache=ImageCache())
        return [
            answer
            if isinstance(answer, ImageFacts)
            else InspectFailure(image=r.image, error=redact_urls_in(str(answer)))
            for r, answer in zip(requests, answers, strict=True)
        ]

    return inspect


# --- what each service needs looked up ------------------------------------------------------------

# The program each catalog `probe:` runs inside the container (render/compose.py: python runs python3).
PROBE_PROGRAM = {"curl": "curl", "wget": "wget", "node": "node", "python": "python3", "bash": "bash", "nc": "nc"}
HTTP_PROBES = ("curl", "wget", "node", "python", "bash")
TCP_PROBES = ("bash", "nc")


def probe_program(service: Service) -> str | None:
    """The program the service's health check runs inside the image; None when it runs none."""
    health = service.health
    if isinstance(health, (HttpHealth, TcpHealth)):
        return PROBE_PROGRAM.get(health.probe)  # "none": nothing runs inside
    if isinstance(health, CommandHealth):
        command = health.command
        return "sh" if isinstance(command, str) else command[0]  # a string runs through /bin/sh -c
    return None


def request_for(name: str, service: Service) -> ImageRequest:
    """What to look up in a service's image: its probe program (plus PROBE_PROGRAMS) and its volume paths."""
    needed = probe_program(service)
    programs = list(dict.fromkeys([*([needed] if needed else []), *PROBE_PROGRAMS]))
    paths = list(dict.fromkeys(volume.path for volume in service.volumes))
    return ImageRequest(service=name, image=service.image, programs=programs, paths=paths)


# --- aipair images inspect -------------------------------------------------------------------------


class ImageInspection(Result):
    ok: bool = True
    service: str | None  # the catalog service asked for, None for an image reference
    image: str
    probe_program: str | None  # the program the service's health check runs, when it runs one
    facts: ImageFacts


def looks_like_image(target: str) -> bool:
    """An image reference names a tag, digest or repository path; a bare word is a service name."""
    return any(mark in target for mark in (":", "/", "@"))


def inspect(
    catalog: Catalog | None, target: str, inspector: Inspector, progress: Progress = no_progress
) -> ImageInspection:
    """The facts of one image: a catalog service's (with its probe program and volume paths), or any
    pinned reference. ``catalog`` may be None when ``target`` is an image reference."""
    service: str | None = None
    needed: str | None = None
    if catalog is not None and target in catalog.services:
        service = target
        request = request_for(target, catalog.services[target])
        needed = probe_program(catalog.services[target])
    elif looks_like_image(target):
        request = ImageRequest(service=None, image=_pinned(target), programs=list(PROBE_PROGRAMS), paths=[])
    else:
        known = list(catalog.services) if catalog is not None else []
        raise UsageError(
            f"no service {target!r} in the catalog{suggest(target, known)}; "
            "to inspect an image instead, give its tag, e.g. busybox:1.36.1"
        )
    progress(f"inspecting {request.image}")
    (answer,) = _answers(inspector, [request])
    if isinstance(answer, InspectFailure):
        raise Unavailable(f"{answer.image}: {answer.error}")
    return ImageInspection(service=service, image=request.image, probe_program=needed, facts=answer)


def _pinned(target: str) -> str:
    try:
        ref = ImageRef.parse(target)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if ref.tag is None and ref.digest is None:
        raise UsageError(f"{target!r} has no tag; give the version to inspect, e.g. {target}:1.2.3")
    return target


def _answers(inspector: Inspector, requests: list[ImageRequest]) -> list[ImageFacts | InspectFailure]:
    answers = inspector(requests)
    if len(answers) != len(requests):  # the contract: one answer per request, in order
        raise RuntimeError(f"the inspector answered {len(answers)} times for {len(requests)} images")
    return answers


# --- the checks ------------------------------------------------------------------------------------

Verdict = Literal["pass", "warn", "fail", "skip"]
_WEIGHT: dict[str, int] = {"skip": 0, "pass": 1, "warn": 2, "fail": 3}


class Check(BaseModel):
    """One assumption of the catalog, and whether the image keeps it."""

    check: Literal["platform", "probe", "ports", "user", "volumes"]
    verdict: Verdict
    reason: str


def worst(verdicts: list[Verdict]) -> Verdict:
    """fail over warn over pass over skip (no verdicts: skip)."""
    return max(verdicts, key=lambda verdict: _WEIGHT[verdict], default="skip")


def check_platform(facts: ImageFacts) -> Check:
    if facts.has_platform:
        return Check(check="platform", verdict="pass", reason=f"{PLATFORM} offered")
    offered = ", ".join(facts.platforms) or "none listed"
    return Check(check="platform", verdict="fail", reason=f"{PLATFORM} not offered; the image offers: {offered}")


def check_probe(service: Service, facts: ImageFacts) -> Check:
    """The health check's program is on the image's PATH; if not, name a probe the image can run."""
    health = service.health
    if health is None:
        return Check(check="probe", verdict="skip", reason="no health check in the catalog")
    needed = probe_program(service)
    if needed is None:
        return Check(check="probe", verdict="skip", reason="probe: none runs nothing inside the image")
    lookup = facts.program(needed)
    if lookup is None:
        return Check(check="probe", verdict="warn", reason=f"{needed} was not looked up in the image")
    if lookup.path is not None:
        return Check(check="probe", verdict="pass", reason=f"{needed} at {_where(lookup.path, lookup.target)}")
    missing = f"{needed} not found on the image's PATH ({':'.join(facts.path) or 'unset'})"
    if isinstance(health, (HttpHealth, TcpHealth)):
        options = HTTP_PROBES if isinstance(health, HttpHealth) else TCP_PROBES
        for option in options:
            found = facts.program(PROBE_PROGRAM[option])
            if option != health.probe and found is not None and found.path is not None:
                return Check(
                    check="probe",
                    verdict="fail",
                    reason=f"{missing}; use probe: {option} which the image has ({_where(found.path, found.target)})",
                )
        return Check(
            check="probe",
            verdict="fail",
            reason=f"{missing}, nor any of {', '.join(PROBE_PROGRAM[o] for o in options)}; use probe: none "
            "(Kubernetes still probes it from the kubelet)",
        )
    return Check(check="probe", verdict="fail", reason=f"{missing}; the health check command cannot run")


def _where(path: str, target: str | None) -> str:
    return f"{path} → {target}" if target and target != path else path


def _port_key(text: str) -> str:
    """ExposedPorts keys are "8080/tcp"; a bare number means tcp."""
    return text if "/" in text else f"{text}/tcp"


def check_ports(service: Service, facts: ImageFacts) -> Check:
    """Each catalog port is exposed by the image or a known difference. An unexposed, unlisted port is a
    mismatch (fail) when the image exposes other ports, and only a warning when it exposes none."""
    if not service.ports:
        return Check(check="ports", verdict="skip", reason="no ports in the catalog")
    exposed = [_port_key(port) for port in facts.exposed_ports]
    known = service.known_differences
    verdicts: list[Verdict] = []
    notes: list[str] = []
    for port in service.ports:
        key = f"{port.port}/{port.protocol}"
        if key in exposed:
            verdicts.append("pass")
            note = f"{key} exposed"
            if known is not None and port.port in known.ports:
                note += " (listed in known_differences.ports but exposed now: the entry can go)"
            notes.append(note)
        elif known is not None and port.port in known.ports:
            verdicts.append("pass")
            notes.append(f"{key} not exposed, a known difference: {known.reason}")
        elif exposed:
            verdicts.append("fail")
            notes.append(
                f"{key} not exposed; the image exposes {', '.join(exposed)} (fix the port, or list it in "
                "known_differences.ports if the image listens there anyway)"
            )
        else:
            verdicts.append("warn")
            notes.append(f"{key} unconfirmed: the image exposes no ports")
    return Check(check="ports", verdict=worst(verdicts), reason="; ".join(notes))


def effective_user(service: Service, facts: ImageFacts) -> tuple[str, str]:
    """The user the container runs as, and who says so: the catalog's `user:` overrides the image's."""
    if service.user:
        return service.user, "catalog user:"
    return facts.user, "image"


def _is_root(user: str) -> bool:
    return user.partition(":")[0] in ("", "0", "root")


def _named(user: str, source: str) -> str:
    return f"root (the {source} sets no user)" if not user else f"{user!r} (the {source})"


def check_user(service: Service, facts: ImageFacts) -> Check:
    """`runs_as_root: true` exactly when the container runs as root."""
    user, source = effective_user(service, facts)
    root = _is_root(user)
    if root == service.runs_as_root:
        said = "root, as runs_as_root: true says" if root else "non-root, as the catalog expects"
        return Check(check="user", verdict="pass", reason=f"runs as {_named(user, source)}: {said}")
    if service.runs_as_root:
        return Check(
            check="user",
            verdict="fail",
            reason=f"the catalog says runs_as_root: true, the image runs as {_named(user, source)}; "
            "set runs_as_root: false",
        )
    return Check(
        check="user",
        verdict="fail",
        reason=f"the catalog says runs_as_root: false, the image runs as {_named(user, source)}; set "
        "runs_as_root: true, or user: a non-root uid the image supports",
    )


def _ids(user: str) -> tuple[int | None, int | None]:
    """uid and gid of ``user`` when known here (numbers, or root); a name needs the image's /etc/passwd."""
    name, _, group = user.partition(":")
    uid = 0 if name in ("", "root") else int(name) if name.isdigit() else None
    gid = int(group) if group.isdigit() else (0 if group == "root" or (not group and uid == 0) else None)
    return uid, gid


def _writable(info: PathInfo, uid: int | None, gid: int | None) -> bool | None:
    """Whether the user may create entries in directory ``info``; None when its uid is not known."""
    if uid == 0 or info.mode & 0o002:
        return True
    if uid is not None and info.uid == uid and info.mode & 0o200:
        return True
    if gid is not None and info.gid == gid and info.mode & 0o020:
        return True
    return False if uid is not None else None


def _owned(info: PathInfo) -> str:
    return f"owner {info.uid}:{info.gid}, mode {info.mode:04o}"


def _ancestors(path: str) -> list[str]:
    parents: list[str] = []
    while path != "/":
        path = posixpath.dirname(path)
        parents.append(path)
    return parents


def check_volume(path: str, user: str, facts: ImageFacts) -> tuple[Verdict, str]:
    info = facts.path_info(path)
    if info is None:
        return "warn", f"{path} was not looked up in the image"
    if info.exists:
        if info.kind in ("file", "other"):
            return "fail", f"{path} is a {info.kind} in the image, not a directory; a volume mounts a directory"
        return "pass", f"{path} exists ({info.kind}, {_owned(info)})"
    uid, gid = _ids(user)
    for parent in _ancestors(path):
        above = facts.path_info(parent)
        if above is None:
            return "warn", f"{path} does not exist and {parent} was not looked up"
        if not above.exists:
            continue
        writable = _writable(above, uid, gid)
        who = "root" if uid == 0 else f"uid {uid}" if uid is not None else f"user {user!r}"
        if writable:
            return "pass", f"{path} does not exist; {who} can create it in {parent} ({_owned(above)})"
        if writable is None:
            return "warn", (
                f"{path} does not exist and {parent} ({_owned(above)}) is not writable by all; the uid of "
                f"user {user!r} is not known here: set user: UID:GID in the catalog to check it"
            )
        return "fail", (
            f"{path} does not exist and {who} cannot create it: {parent} is {_owned(above)}; create it in the "
            "image owned by that user, or choose a path the user can write"
        )
    return "warn", f"{path} does not exist and no ancestor was found in the image"


def check_volumes(service: Service, facts: ImageFacts) -> Check:
    """Each volume path exists in the image, or its nearest existing ancestor is writable by its user."""
    if not service.volumes:
        return Check(check="volumes", verdict="skip", reason="no volumes in the catalog")
    user, _source = effective_user(service, facts)
    results = [check_volume(path, user, facts) for path in dict.fromkeys(v.path for v in service.volumes)]
    return Check(check="volumes", verdict=worst([r[0] for r in results]), reason="; ".join(r[1] for r in results))


def checks_for(service: Service, facts: ImageFacts) -> list[Check]:
    """Every check of one service against its image's facts, in the table's order."""
    return [
        check_platform(facts),
        check_probe(service, facts),
        check_ports(service, facts),
        check_user(service, facts),
        check_volumes(service, facts),
    ]


# --- aipair catalog verify --images ------------------------------------------------------------------


class ServiceVerification(BaseModel):
    service: str
    image: str
    verdict: Literal["pass", "warn", "fail", "skip", "error"]
    digest: str | None = None  # the platform manifest that was checked
    error: str | None = None  # why the image could not be inspected
    skipped: str | None = None  # why the service was not checked
    checks: list[Check] = Field(default_factory=list)


class VerifyReport(Result):
    ok: bool  # no check failed and every image was inspected
    inspected: int  # images asked of the registry
    unreachable: int  # of them, the ones that could not be inspected
    services: list[ServiceVerification]

    @property
    def all_unreachable(self) -> bool:
        """Nothing could be read: the registry (or the credentials) is the problem, not the catalog."""
        return self.inspected > 0 and self.unreachable == self.inspected


def _not_run(service: Service) -> str | None:
    """Why a service's image is not checked: it never runs anywhere aipair deploys."""
    if not service.phases:
        return "in no phase"
    if service.phases == ["scale"] and service.scale.managed is not None:
        return f"a managed endpoint in phase scale ({service.scale.managed.host}); no image runs"
    return None


def verify_images(
    catalog: Catalog, inspector: Inspector, services: list[str] | None = None, progress: Progress = no_progress
) -> VerifyReport:
    """Check each service's image against the catalog's assumptions. One request per distinct image (its
    programs and paths merged); an image that cannot be inspected fails its services, not the others."""
    names = list(dict.fromkeys(services)) if services else list(catalog.services)
    for name in names:
        catalog.service(name)  # UnknownService: a usage error naming the closest name
    skipped = {name: why for name in names if (why := _not_run(catalog.services[name])) is not None}
    merged: dict[str, ImageRequest] = {}
    for name in names:
        if name in skipped:
            continue
        request = request_for(name, catalog.services[name])
        if (seen := merged.get(request.image)) is None:
            merged[request.image] = request
        else:
            merged[request.image] = ImageRequest(
                service=None,
                image=request.image,
                programs=list(dict.fromkeys(seen.programs + request.programs)),
                paths=list(dict.fromkeys(seen.paths + request.paths)),
            )
    requests = list(merged.values())
    if requests:
        progress(f"inspecting {len(requests)} image{'s' if len(requests) != 1 else ''} from their registries")
    answers = dict(zip(merged, _answers(inspector, requests), strict=True)) if requests else {}
    rows = [_verify_one(name, catalog.services[name], skipped.get(name), answers) for name in names]
    unreachable = sum(isinstance(answer, InspectFailure) for answer in answers.values())
    ok = all(row.verdict not in ("fail", "error") for row in rows)
    return VerifyReport(ok=ok, inspected=len(requests), unreachable=unreachable, services=rows)


def _verify_one(
    name: str, service: Service, skipped: str | None, answers: dict[str, ImageFacts | InspectFailure]
) -> ServiceVerification:
    if skipped is not None:
        return ServiceVerification(service=name, image=service.image, verdict="skip", skipped=skipped)
    answer = answers[service.image]
    if isinstance(answer, InspectFailure):
        return ServiceVerification(service=name, image=service.image, verdict="error", error=answer.error)
    checks = checks_for(service, answer)
    return ServiceVerification(
        service=name,
        image=service.image,
        verdict=worst([check.verdict for check in checks]),
        digest=answer.digest,
        checks=checks,
    )
