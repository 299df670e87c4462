"""The Kestra engine module's Maven runs (tests/kestra-engine through scripts/kestra-engine.sh), started in the
background at the beginning of the engine tests and collected by tests/engine/test_kestra_engine.py.

Why in the background: the two runs (Kestra 1.0.20 and 2.0.0) take ~3 min each, most of it waiting on Kestra's
retry delays, its every-minute schedule and the validations' Docker containers, the rest Java start-up (CPU).
Started by the `kestra_engine` session fixture (tests/engine/conftest.py) before the first engine test, both at
once and niced, they overlap with each other and with the Docker-bound tests; the test module is moved to the
end of the session and waits for them there. A run that failed, timed out or never started fails its tests.

What keeps them apart from the tests running meanwhile: their own registry, their own catalog project
(kengine1/kengine2, so their throw-away projects are `kengine1-validate-web`…, never the `up-validate-*` of
the upgrade tests), their own webhook server, free ports, and their own Maven build directory each.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import traceback
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker

from aipair.engines.kestra import join_sources
from aipair.render.kestra import FLOW_ORDER

from .commands import invoke
from .paths import ROOT
from .registry import free_port
from .shell_images import SERVE, push_shell_images
from .upgrade import platform_repository
from .webhook import Webhook

ENGINE = ROOT / "scripts" / "kestra-engine.sh"
MODULE = ROOT / "tests" / "kestra-engine"
TEST_MODULE = "test_kestra_engine.py"
# One Maven run, from its start: cold (nothing cached) it downloads ~130 MB of jars first.
ENGINE_TIMEOUT = 1800
# Below the Docker-bound tests running meanwhile: they have deadlines, the engine runs have minutes of slack.
NICE = 10

# Flows the engine and the imitation both validate; their answers are only compared, never required clean.
PROBES = {
    "probe-unknown-type": "id: p1\nnamespace: aipair.probe\ntasks:\n- id: a\n  type: io.kestra.plugin.core.log.Nope\n",
    "probe-unknown-property": (
        "id: p2\nnamespace: aipair.probe\ntasks:\n- id: a\n  type: io.kestra.plugin.core.log.Log\n"
        "  message: hi\n  colour: red\n"
    ),
    "probe-duplicate-id": (
        "id: p3\nnamespace: aipair.probe\ntasks:\n- id: a\n  type: io.kestra.plugin.core.log.Log\n  message: x\n"
        "- id: a\n  type: io.kestra.plugin.core.log.Log\n  message: y\n"
    ),
    "probe-deprecated-alias": (
        "id: p4\nnamespace: aipair.probe\ntasks:\n- id: a\n  type: io.kestra.core.tasks.log.Log\n  message: x\n"
    ),
    "probe-no-tasks": "id: p5\nnamespace: aipair.probe\n",
}


@dataclass(frozen=True)
class Profile:
    """One Maven run: the Kestra version the flows are rendered for (None: the catalog's default), the build
    directory its pom profile uses, the Maven arguments, and the catalog project name its validations use."""

    kestra_version: str | None
    build_dir: str
    maven: tuple[str, ...]
    project: str


PROFILES = {
    "kestra-1": Profile(None, "kestra-1", (), "kengine1"),
    "kestra-2": Profile("2.0.0", "kestra-2", ("-Pkestra-2",), "kengine2"),
}


@dataclass
class EngineRun:
    """One run of scripts/kestra-engine.sh: its exit code and output, the JSON the engine wrote, the
    surefire reports, and the side effects (webhook calls, the bare repository)."""

    returncode: int
    output: str
    seconds: float
    out: Path
    reports: Path
    webhook: list[dict[str, Any]]
    bare: Path
    bodies: Path

    def json(self, name: str) -> Any:
        path = self.out / f"{name}.json"
        assert path.exists(), f"the engine wrote no {path.name}:\n{self.output[-4000:]}"
        return json.loads(path.read_text())

    def testcases(self) -> dict[str, str]:
        """Test name -> passed / failed / error / skipped, from surefire's XML reports."""
        cases: dict[str, str] = {}
        for report in sorted(self.reports.glob("TEST-*.xml")):
            for case in ET.parse(report).getroot().iter("testcase"):
                outcome = "passed"
                for kind in ("failure", "error", "skipped"):
                    if case.find(kind) is not None:
                        outcome = kind
                cases[case.attrib["name"]] = outcome
        return cases

    def explain(self) -> str:
        texts = [p.read_text()[-3000:] for p in sorted(self.reports.glob("*.txt"))]
        return "\n".join([self.output[-4000:], *texts])


def push_second_candidate(address: str, docker_host: str) -> None:
    """cache 1.1.0 (healthy) beside web 1.2.0 (never healthy): the watch fans out to two candidates."""
    client = docker.DockerClient(base_url=docker_host, timeout=120)
    push_shell_images(client, f"{address}/aipair/cache", {"1.1.0": SERVE.format(text="ok cache 1.1")}, keep=False)


def platform(tmp: Path, address: str, project: str, kestra_version: str | None = None) -> tuple[Path, Path]:
    """A bare git repository holding the catalog the flows clone: retries as shipped (2), an
    every-minute schedule so that the real scheduler starts the watch within the run; the flows
    rendered for `kestra_version` when given (this catalog has no Kestra service whose tag would say it)."""
    kestra: dict[str, Any] = {
        "runner": "process",
        "schedule": "* * * * *",
        "timezone": "UTC",
        "validate_timeout": 20,
        "retries": 2,
        "propose": "branch",
        "notify_secret": "AIPAIR_NOTIFY_WEBHOOK",
    }
    if kestra_version is not None:
        kestra["version"] = kestra_version
    return platform_repository(tmp, address, kestra, project=project)


def render(catalog: Path, out: Path) -> Path:
    """`aipair flows render --runner process`: the flows as the CLI writes them (whatever the renderer does)."""
    result = invoke(["flows", "render", "--runner", "process", "--out", str(out), "--catalog", str(catalog)], {})
    assert result.exit_code == 0, result.output
    flows = out / "kestra-flows"
    assert sorted(p.stem for p in flows.glob("*.yml")) == sorted(FLOW_ORDER)
    return flows


def sources(flows: Path) -> list[str]:
    return [(flows / f"{flow_id}.yml").read_text() for flow_id in FLOW_ORDER]


def catalog_at(kestra_version: str, tmp: Path) -> Path:
    """The repository's catalog.yaml with its Kestra image at `kestra_version`, rendered."""
    source = (ROOT / "catalog.yaml").read_text()
    assert "image: kestra/kestra:v1.0.4" in source
    catalog = tmp / "catalog-image" / "catalog.yaml"
    catalog.parent.mkdir()
    catalog.write_text(source.replace("image: kestra/kestra:v1.0.4", f"image: kestra/kestra:v{kestra_version}"))
    return render(catalog, catalog.parent / "rendered")


@dataclass
class BackgroundRun:
    """scripts/kestra-engine.sh for one profile, started (niced, in its own process group, its output to a
    file) and collected once."""

    profile: Profile
    tmp: Path
    docker_host: str
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    webhook: Webhook = field(default_factory=Webhook)
    bare: Path = Path()
    serving: bool = False
    collected: EngineRun | None = None

    @property
    def log(self) -> Path:
        return self.tmp / "maven.log"

    @property
    def bodies(self) -> Path:
        return self.tmp / "validate"

    @property
    def reports(self) -> Path:
        return MODULE / "target" / self.profile.build_dir / "surefire-reports"

    def start(self, images: str) -> None:
        """Render the flows for this profile and start the Maven run on them (returns at once)."""
        catalog, self.bare = platform(self.tmp, images, self.profile.project, self.profile.kestra_version)
        flows = render(catalog, self.tmp / "rendered")
        self.bodies.mkdir()
        (self.bodies / "rendered.yaml").write_text(join_sources(sources(flows)))
        if self.profile.kestra_version is not None:
            # the repository's catalog with its Kestra image at that release: what `flows register` would load
            image_flows = catalog_at(self.profile.kestra_version, self.tmp)
            (self.bodies / "catalog-image.yaml").write_text(join_sources(sources(image_flows)))
        else:
            committed = [(ROOT / "kestra-flows" / f"{flow_id}.yml").read_text() for flow_id in FLOW_ORDER]
            (self.bodies / "committed.yaml").write_text(join_sources(committed))
            for name, source in PROBES.items():
                (self.bodies / f"{name}.yaml").write_text(source)
        shutil.rmtree(self.reports, ignore_errors=True)  # a run that dies early must not show the last run's reports
        self.webhook.start()
        self.serving = True
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",  # aipair, as the worker runs it
            "DOCKER_HOST": self.docker_host,
            "SECRET_AIPAIR_NOTIFY_WEBHOOK": base64.b64encode(self.webhook.url.encode()).decode(),
            "AIPAIR_KESTRA_FLOWS": str(flows),
            "AIPAIR_KESTRA_VALIDATE": str(self.bodies),
            "AIPAIR_KESTRA_OUT": str(self.tmp / "out"),
            "AIPAIR_KESTRA_WORK": str(self.tmp / "kestra"),
            "AIPAIR_KESTRA_REPOSITORY": str(self.bare),
            "AIPAIR_PYTHON": sys.executable,
            "AIPAIR_KESTRA_CONTROLLER_PORT": str(free_port()),  # 2.0's worker controller (gRPC)
        }
        with self.log.open("wb") as log:
            self.started = time.monotonic()
            self.process = subprocess.Popen(
                ["nice", "-n", str(NICE), str(ENGINE), *self.profile.maven],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: a timeout stops Maven and its forked JVM
            )

    def collect(self) -> EngineRun:
        """Wait for the run (at most ENGINE_TIMEOUT from its start); its EngineRun, once."""
        if self.collected is not None:
            return self.collected
        assert self.process is not None
        try:
            self.process.wait(timeout=max(1.0, ENGINE_TIMEOUT - (time.monotonic() - self.started)))
        except subprocess.TimeoutExpired:
            self._stop()
            raise AssertionError(
                f"the Kestra engine run {self.profile.build_dir} took over {ENGINE_TIMEOUT} s:\n"
                + self.log.read_text(errors="replace")[-4000:]
            ) from None
        self.collected = EngineRun(
            self.process.returncode,
            self.log.read_text(errors="replace"),
            time.monotonic() - self.started,
            self.tmp / "out",
            self.reports,
            self.webhook.received,
            self.bare,
            self.bodies,
        )
        return self.collected

    def _stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def close(self) -> None:
        """Stop the run if it still goes, stop its webhook, and remove what its validations left on the engine."""
        self._stop()
        if self.serving:
            self.webhook.shutdown()
        self.webhook.server_close()
        client = docker.DockerClient(base_url=self.docker_host, timeout=60)
        prefix = f"{self.profile.project}-validate-"
        label: dict[str, str | list[str] | bool] = {"label": "com.docker.compose.project"}
        for container in client.containers.list(all=True, filters=label):
            if container.labels.get("com.docker.compose.project", "").startswith(prefix):
                container.remove(force=True)
        for network in client.networks.list(filters=label):
            if network.attrs.get("Labels", {}).get("com.docker.compose.project", "").startswith(prefix):
                network.remove()
        for volume in client.volumes.list(filters=label):
            if (volume.attrs.get("Labels") or {}).get("com.docker.compose.project", "").startswith(prefix):
                volume.remove(force=True)


class KestraRuns:
    """Both profiles' runs: started once (early by the session fixture, or late by the test module itself),
    collected by the module; a failure to start is kept and fails the module's tests, never skips them."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.runs: dict[str, BackgroundRun] = {}
        self.failure: str | None = None

    @property
    def started(self) -> bool:
        return bool(self.runs) or self.failure is not None

    def start(self, images: str, docker_host: str) -> None:
        """Push the watch's second candidate to `images` and start every profile's run (returns at once)."""
        try:
            push_second_candidate(images, docker_host)
            for name, profile in PROFILES.items():
                run = BackgroundRun(profile, self.tmp / name, docker_host)
                run.tmp.mkdir(parents=True)
                self.runs[name] = run
                run.start(images)
        except Exception:
            self.failure = traceback.format_exc()

    def result(self, name: str) -> EngineRun:
        if self.failure is not None:
            raise AssertionError(f"the Kestra engine runs did not start:\n{self.failure}")
        assert name in self.runs, f"the Kestra engine run {name} was never started"
        return self.runs[name].collect()

    def close(self) -> None:
        for run in self.runs.values():
            run.close()
