"""`upgrade validate --with-data`: the throw-away project starts on a copy of the running deployment's data.

Which volumes: the named volumes of the candidate and its dependency closure (a `shared_from` volume once,
under its owner's name) that exist in the live project (the profile's Compose project,
render/names.compose_project); one the live project lacks is started empty, and the report says so.

A consistent copy: the live services that write a copied volume (every service mounting it, not read-only)
are stopped with `compose stop` in the live project, each volume is copied on the engine
(engines/volumes.copy: the source mounted read-only) into a volume made with the name and the Compose labels
the throw-away project's `compose up` adopts, and the live services that were stopped are started again in
a `finally`, whatever happened. The originals are only ever read; the copies are removed by the throw-away
project's `down --volumes` (or here, when the copy itself fails). The report gives the bytes and seconds of
each copy and how long the live services were stopped.

Secrets (the decision): the throw-away project keeps its fresh secrets, with one exception. A data
directory keeps the credentials it was initialised with (a database's superuser password lives in the
copy), so a candidate started on copied data with fresh values could not open its own data, and the
validation would prove nothing. Therefore the **generated** secrets read by the services that own or mount
a copied volume take their LIVE values from the live project's `.env`: they guard data the candidate
holds in full anyway. Nothing else is carried over: secrets of other services stay fresh (a declared
database's role passwords are set again by its init job on every run), supplied secrets (vendor keys,
which guard accounts outside the platform) stay empty, and JWTs and the keys that sign them stay fresh,
because a live signing key would let the candidate mint tokens the live platform accepts. The report
names the secrets carried over, never their values.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import Field

from ...catalog.model import Catalog
from ...engines import docker as engine
from ...engines import volumes
from ...engines.compose import ComposeProject
from ...engines.files import atomic_write
from ...engines.secretstore import HEADER, format_assignment, read_env
from ...errors import AipairError
from ...render.names import compose_volume_name, volume_name
from ...results import Result, Seconds
from ..callbacks import Progress, no_progress
from ..deploy import project_for

if TYPE_CHECKING:
    from docker import DockerClient


@dataclass(frozen=True)
class LiveDeployment:
    """Where the running deployment is: the checkout's root (beside catalog.yaml) and the profile."""

    root: Path
    profile: str = "real"

    def project(self, catalog: Catalog, host: str | None) -> ComposeProject:
        return project_for(catalog, self.root, self.profile, host)


@dataclass(frozen=True)
class PlannedCopy:
    """One named volume of the throw-away project and the live volume it is copied from."""

    volume: str  # the Compose key, <owner>-<name>
    source: str  # the live project's engine volume
    target: str  # the throw-away project's engine volume
    owner: str
    writers: tuple[str, ...]  # live services mounting it read-write: stopped while it is copied


class VolumeCopy(Result):
    volume: str
    source: str
    target: str
    copied: bool = False  # False: the live project has no such volume; the candidate starts it empty
    bytes: int = 0
    seconds: Seconds = 0.0


class DataCopy(Result):
    ok: bool = False
    volumes: list[VolumeCopy] = Field(default_factory=list)
    stopped: list[str] = Field(default_factory=list)  # live services stopped for the copy
    stopped_seconds: Seconds = 0.0  # how long they were stopped
    restarted: bool = True  # False: a stopped live service did not start again (the error says what to do)
    secrets: list[str] = Field(default_factory=list)  # names whose live values the throw-away project uses
    error: str = ""


class DataCopyError(AipairError):
    """The live data could not be copied consistently."""


def plan(live: Catalog, trial: Catalog, live_project: str, throwaway_project: str) -> list[PlannedCopy]:
    """The trial's named volumes (each once, by owner), with the live services that write each."""
    keys: dict[str, tuple[str, str]] = {}
    for name, service in trial.services.items():
        for volume in service.volumes:
            keys.setdefault(volume_name(volume.owner(name), volume.name), (volume.owner(name), volume.name))
    planned = []
    for key, (owner, short) in keys.items():
        writers = tuple(
            name
            for name, service in live.services.items()
            for volume in service.volumes
            if volume_name(volume.owner(name), volume.name) == key and not volume.read_only
        )
        planned.append(
            PlannedCopy(
                volume=key,
                source=compose_volume_name(live_project, owner, short),
                target=compose_volume_name(throwaway_project, owner, short),
                owner=owner,
                writers=tuple(dict.fromkeys(writers)),
            )
        )
    return planned


def carried_secrets(live: Catalog, trial: Catalog, copies: list[PlannedCopy]) -> list[str]:
    """Generated secrets read by the trial's services that mount a copied volume (see the module docstring);
    never a JWT, a key that signs one, or a supplied secret."""
    mounting = {
        name
        for name, service in trial.services.items()
        for volume in service.volumes
        if any(volume_name(volume.owner(name), volume.name) == c.volume for c in copies)
    }
    signing = {s.jwt.signed_with for s in live.secrets.values() if s.jwt is not None}
    names = [n for name in trial.services if name in mounting for n in trial.services[name].secret_names()]
    return [
        n
        for n in dict.fromkeys(names)
        if n in live.secrets and live.secrets[n].generate is not None and n not in signing
    ]


def _use_live_values(names: list[str], live_env: Path, throwaway_env: Path) -> list[str]:
    """Rewrite the throw-away `.env` with the live values of ``names`` (those the live `.env` has)."""
    live_values = read_env(live_env)
    values = read_env(throwaway_env)
    carried = [n for n in names if live_values.get(n)]
    if not carried:
        return []
    values.update({n: live_values[n] for n in carried})
    text = "\n".join([HEADER, *(format_assignment(k, v) for k, v in values.items())]) + "\n"
    atomic_write(throwaway_env, text, mode=0o600)
    return carried


def _labels(project: ComposeProject, key: str) -> dict[str, str]:
    """What `compose up` adopts as its own volume: the project and volume labels (no config hash: Compose
    then checks nothing more), plus the labels the rendered file gives the volume."""
    document = yaml.safe_load(project.file.read_text())
    rendered = (document.get("volumes") or {}).get(key) or {}
    return {
        **{str(k): str(v) for k, v in (rendered.get("labels") or {}).items()},
        "com.docker.compose.project": project.name,
        "com.docker.compose.volume": key,
    }


def _running(client: DockerClient, project: str, services: set[str]) -> set[str]:
    return {s.service for s in engine.project_containers(client, project) if s.state == "running"} & services


def copy_live_data(
    live_catalog: Catalog,
    trial: Catalog,
    project: ComposeProject,
    live: ComposeProject,
    client: Any,
    *,
    report: Progress = no_progress,
) -> DataCopy:
    """Copy the live volumes into the throw-away ``project``'s before it starts (see the module docstring).
    Never raises for a failed copy: the result says what failed (ok False, ``error``)."""
    result = DataCopy()
    planned = plan(live_catalog, trial, live.name, project.name)
    present = []
    for item in planned:
        if volumes.exists(client, item.source):
            present.append(item)
        else:
            result.volumes.append(VolumeCopy(volume=item.volume, source=item.source, target=item.target))
            report(f"{item.volume}: not in the live project {live.name}; the candidate starts it empty")
    result.secrets = _use_live_values(
        carried_secrets(live_catalog, trial, present), live.directory / ".env", project.directory / ".env"
    )
    if result.secrets:
        report(
            f"the throw-away project uses the live values of {', '.join(result.secrets)} (they guard the copied data)"
        )
    if not present:
        result.ok = True
        return result
    created: list[str] = []
    try:
        for item in present:
            volumes.create(client, item.target, _labels(project, item.volume))
            created.append(item.target)
        writers = {w for item in present for w in item.writers}
        before = _running(client, live.name, set(live_catalog.services))  # to restart what Compose stops
        stopped_at = time.monotonic()
        try:
            if writers & before:
                report(f"stopping {', '.join(sorted(writers & before))} in {live.name} for a consistent copy")
                stop = live.run("stop", *sorted(writers & before))
                if stop.returncode != 0:
                    raise DataCopyError(f"`compose stop` in {live.name} failed: {(stop.stdout + stop.stderr)[-500:]}")
            result.stopped = sorted(before - _running(client, live.name, before))  # dependents too, if Compose did
            for item in present:
                report(f"copying {item.source} to {item.target}")
                done = volumes.copy(client, item.source, item.target)
                result.volumes.append(
                    VolumeCopy(
                        volume=item.volume, source=item.source, target=item.target, copied=True,
                        bytes=done.bytes, seconds=done.seconds,
                    )
                )  # fmt: skip
        finally:
            stopped = sorted(before - _running(client, live.name, before))
            if stopped:
                report(f"starting {', '.join(stopped)} in {live.name} again")
                live.run("start", *stopped)
                left = sorted(set(stopped) - _running(client, live.name, set(stopped)))
                if left:
                    result.restarted = False
                    result.stopped_seconds = time.monotonic() - stopped_at
                    raise DataCopyError(
                        f"the live services {', '.join(left)} of {live.name} did not start again after the copy: "
                        f"run `aipair deploy` to bring them back (their data was only read)"
                    )
            result.stopped_seconds = time.monotonic() - stopped_at if result.stopped else 0.0
        result.ok = True
    except AipairError as exc:
        result.error = str(exc)
        for name in created:
            volumes.remove(client, name)
    return result
