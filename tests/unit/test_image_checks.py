"""The checks of `catalog verify --images`: pure functions of a catalog service and the ImageFacts the registry
engine reads. The facts are built here as values (what the engine returns for such images); the engine itself
is tested against the real registry in tests/engine/test_image_inspect.py."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest

from aipair.catalog.model import Catalog, Service
from aipair.engines.image_facts import PROBE_PROGRAMS, ImageFacts, PathInfo, ProgramLookup
from aipair.errors import Unavailable, UnknownService, UsageError
from aipair.ops.images import (
    ImageRequest,
    InspectFailure,
    check_platform,
    check_ports,
    check_probe,
    check_user,
    check_volumes,
    inspect,
    probe_program,
    request_for,
    verify_images,
)
from tests.helpers import catalogs


def service(**fields: Any) -> Service:
    return Service.model_validate({"layer": "application", "image": "example/app:1.0.0", **fields})


def facts(
    *,
    programs: Mapping[str, str | None] | None = None,
    user: str = "",
    exposed: list[str] | None = None,
    paths: list[PathInfo] | None = None,
    platforms: list[str] | None = None,
) -> ImageFacts:
    """An image as the engine reports it; by default root, linux/amd64, nothing on PATH."""
    platforms = ["linux/amd64"] if platforms is None else platforms
    found: dict[str, str | None] = dict.fromkeys(PROBE_PROGRAMS)
    found.update(programs or {})
    return ImageFacts(
        reference="example/app:1.0.0",
        digest="sha256:" + "a" * 64,
        platforms=platforms,
        has_platform="linux/amd64" in platforms,
        user=user,
        exposed_ports=exposed or [],
        path=["/usr/sbin", "/usr/bin", "/sbin", "/bin"],
        size=4_400_000,
        layers=1,
        programs=[
            ProgramLookup(name=name, path=path, target="/bin/busybox" if path else None) for name, path in found.items()
        ],
        paths=paths or [],
    )


BUSYBOX_WITH_WGET = {"wget": "/bin/wget", "sh": "/bin/sh", "nc": "/bin/nc"}
HTTP_CURL = {"type": "http", "port": 8080, "path": "/healthz", "probe": "curl"}


# --- platform ------------------------------------------------------------------------------------


def test_platform_offered_passes() -> None:
    check = check_platform(facts(platforms=["linux/amd64", "linux/arm64"]))
    assert (check.verdict, check.reason) == ("pass", "linux/amd64 offered")


def test_platform_missing_fails_naming_what_is_offered() -> None:
    check = check_platform(facts(platforms=["linux/arm64", "linux/arm/v7"]))
    assert check.verdict == "fail"
    assert check.reason == "linux/amd64 not offered; the image offers: linux/arm64, linux/arm/v7"


# --- probe ---------------------------------------------------------------------------------------


def test_the_probe_program_of_each_health_check() -> None:
    assert probe_program(service(health=HTTP_CURL)) == "curl"
    assert probe_program(service(health={**HTTP_CURL, "probe": "python"})) == "python3"  # what Compose runs
    assert probe_program(service(health={"type": "tcp", "port": 6379, "probe": "nc"})) == "nc"
    assert probe_program(service(health={"type": "tcp", "port": 6379})) == "bash"
    assert probe_program(service(health={"type": "command", "command": ["pg_isready", "-U", "x"]})) == "pg_isready"
    assert probe_program(service(health={"type": "command", "command": "redis-cli ping | grep PONG"})) == "sh"
    assert probe_program(service(health={**HTTP_CURL, "probe": "none"})) is None
    assert probe_program(service()) is None


def test_a_curl_probe_on_a_wget_only_busybox_fails_and_suggests_wget() -> None:
    check = check_probe(service(health=HTTP_CURL), facts(programs=BUSYBOX_WITH_WGET))
    assert check.verdict == "fail"
    assert check.reason.startswith("curl not found on the image's PATH (/usr/sbin:/usr/bin:/sbin:/bin)")
    assert check.reason.endswith("; use probe: wget which the image has (/bin/wget → /bin/busybox)")


def test_a_probe_the_image_has_passes_and_says_where() -> None:
    check = check_probe(service(health={**HTTP_CURL, "probe": "wget"}), facts(programs=BUSYBOX_WITH_WGET))
    assert (check.verdict, check.reason) == ("pass", "wget at /bin/wget → /bin/busybox")


def test_no_client_at_all_suggests_probe_none() -> None:
    check = check_probe(service(health=HTTP_CURL), facts())
    assert check.verdict == "fail"
    assert "nor any of curl, wget, node, python3, bash; use probe: none" in check.reason


def test_a_tcp_probe_suggests_only_tcp_probes() -> None:
    check = check_probe(service(health={"type": "tcp", "port": 6379}), facts(programs=BUSYBOX_WITH_WGET))
    assert check.verdict == "fail" and check.reason.endswith(
        "use probe: nc which the image has (/bin/nc → /bin/busybox)"
    )


def test_a_command_health_check_needs_its_program() -> None:
    health = {"type": "command", "command": ["pg_isready", "-q"]}
    missing = check_probe(service(health=health), facts(programs={"pg_isready": None}))
    assert missing.verdict == "fail" and missing.reason.endswith("the health check command cannot run")
    found = check_probe(service(health=health), facts(programs={"pg_isready": "/usr/bin/pg_isready"}))
    assert found.verdict == "pass"
    unasked = check_probe(service(health=health), facts())
    assert (unasked.verdict, unasked.reason) == ("warn", "pg_isready was not looked up in the image")


def test_no_probe_is_skipped() -> None:
    assert check_probe(service(), facts()).verdict == "skip"
    assert check_probe(service(health={**HTTP_CURL, "probe": "none"}), facts()).verdict == "skip"


# --- ports ---------------------------------------------------------------------------------------


def test_an_exposed_port_passes() -> None:
    check = check_ports(service(ports=[{"port": 8080}]), facts(exposed=["8080/tcp"]))
    assert (check.verdict, check.reason) == ("pass", "8080/tcp exposed")


def test_an_unexposed_port_listed_as_a_known_difference_passes_with_its_reason() -> None:
    svc = service(
        ports=[{"port": 8080}, {"name": "admin", "port": 9000}],
        known_differences={"ports": [9000], "reason": "the admin port is set by ADMIN_PORT"},
    )
    check = check_ports(svc, facts(exposed=["8080/tcp"]))
    assert check.verdict == "pass"
    assert (
        check.reason
        == "8080/tcp exposed; 9000/tcp not exposed, a known difference: the admin port is set by ADMIN_PORT"
    )


def test_an_unexposed_unlisted_port_fails_when_the_image_exposes_others() -> None:
    check = check_ports(service(ports=[{"port": 8080}]), facts(exposed=["8000/tcp"]))
    assert check.verdict == "fail"
    assert check.reason.startswith("8080/tcp not exposed; the image exposes 8000/tcp")
    assert "known_differences.ports" in check.reason


def test_an_unexposed_port_only_warns_when_the_image_exposes_nothing() -> None:
    check = check_ports(service(ports=[{"port": 8080}]), facts(exposed=[]))
    assert (check.verdict, check.reason) == ("warn", "8080/tcp unconfirmed: the image exposes no ports")


def test_the_protocol_counts() -> None:
    check = check_ports(service(ports=[{"port": 53, "protocol": "udp"}]), facts(exposed=["53/tcp"]))
    assert check.verdict == "fail"


def test_known_differences_must_give_a_reason() -> None:
    with pytest.raises(ValueError, match="reason"):
        service(known_differences={"ports": [9000]})


# --- user ----------------------------------------------------------------------------------------


def test_a_non_root_image_with_runs_as_root_true_fails_naming_both() -> None:
    check = check_user(service(runs_as_root=True), facts(user="1000:1000"))
    assert check.verdict == "fail"
    assert check.reason == (
        "the catalog says runs_as_root: true, the image runs as '1000:1000' (the image); set runs_as_root: false"
    )


def test_a_root_image_without_runs_as_root_fails() -> None:
    check = check_user(service(), facts(user=""))
    assert check.verdict == "fail"
    assert "runs_as_root: false" in check.reason and "root (the image sets no user)" in check.reason


@pytest.mark.parametrize("user", ["", "0", "root", "0:0", "root:root"])
def test_root_images_match_runs_as_root(user: str) -> None:
    assert check_user(service(runs_as_root=True), facts(user=user)).verdict == "pass"


def test_the_catalog_user_overrides_the_image_user() -> None:
    check = check_user(service(user="999:999"), facts(user=""))
    assert check.verdict == "pass" and "'999:999' (the catalog user:)" in check.reason


# --- volumes -------------------------------------------------------------------------------------

ROOT = PathInfo(path="/", exists=True, kind="dir", uid=0, gid=0, mode=0o755)
VAR = PathInfo(path="/var", exists=True, kind="dir", uid=0, gid=0, mode=0o755)
MISSING = PathInfo(path="/var/lib", exists=False)
DATA = PathInfo(path="/var/lib/data", exists=False)


def test_a_missing_volume_path_under_a_root_owned_0755_dir_fails_for_a_non_root_user() -> None:
    svc = service(volumes=[{"name": "data", "path": "/var/lib/data"}])
    check = check_volumes(svc, facts(user="1000", paths=[DATA, MISSING, VAR, ROOT]))
    assert check.verdict == "fail"
    assert check.reason.startswith(
        "/var/lib/data does not exist and uid 1000 cannot create it: /var is owner 0:0, mode 0755"
    )


def test_a_missing_volume_path_is_creatable_by_root_or_the_owner_or_anyone() -> None:
    svc = service(volumes=[{"name": "data", "path": "/var/lib/data"}])
    assert check_volumes(svc, facts(user="", paths=[DATA, MISSING, VAR, ROOT])).verdict == "pass"
    owned = VAR.model_copy(update={"uid": 1000})
    assert check_volumes(svc, facts(user="1000", paths=[DATA, MISSING, owned, ROOT])).verdict == "pass"
    sticky = VAR.model_copy(update={"mode": 0o1777})
    assert check_volumes(svc, facts(user="1000", paths=[DATA, MISSING, sticky, ROOT])).verdict == "pass"


def test_an_existing_volume_path_passes_with_its_owner() -> None:
    svc = service(volumes=[{"name": "data", "path": "/data"}])
    data = PathInfo(path="/data", exists=True, kind="dir", uid=1000, gid=1000, mode=0o700)
    check = check_volumes(svc, facts(user="1000", paths=[data, ROOT]))
    assert (check.verdict, check.reason) == ("pass", "/data exists (dir, owner 1000:1000, mode 0700)")


def test_a_volume_path_that_is_a_file_fails() -> None:
    svc = service(volumes=[{"name": "data", "path": "/data"}])
    data = PathInfo(path="/data", exists=True, kind="file", mode=0o644)
    assert check_volumes(svc, facts(paths=[data, ROOT])).verdict == "fail"


def test_a_named_user_cannot_be_resolved_and_warns() -> None:
    svc = service(volumes=[{"name": "data", "path": "/var/lib/data"}])
    check = check_volumes(svc, facts(user="qdrant", paths=[DATA, MISSING, VAR, ROOT]))
    assert check.verdict == "warn" and "set user: UID:GID" in check.reason


def test_no_volumes_is_skipped() -> None:
    assert check_volumes(service(), facts()).verdict == "skip"


# --- requests and the use cases ------------------------------------------------------------------


def test_a_request_asks_for_the_probe_program_and_the_volume_paths() -> None:
    svc = service(health=HTTP_CURL, volumes=[{"name": "data", "path": "/data"}])
    assert request_for("web", svc) == ImageRequest(
        service="web", image="example/app:1.0.0", programs=list(PROBE_PROGRAMS), paths=["/data"]
    )
    native = request_for("db", service(health={"type": "command", "command": ["pg_isready"]}))
    assert native.programs == ["pg_isready", *PROBE_PROGRAMS]


def catalog() -> Catalog:
    return Catalog.model_validate(catalogs.minimal())


class Answers:
    """The inspector's answers, set per image in the test (the checks are what is tested here)."""

    def __init__(self, answers: dict[str, ImageFacts | InspectFailure]) -> None:
        self.answers = answers
        self.asked: list[ImageRequest] = []

    def __call__(self, requests: list[ImageRequest]) -> list[ImageFacts | InspectFailure]:
        self.asked += requests
        return [self.answers[request.image] for request in requests]


def test_verify_reports_each_service_and_fails_on_one_broken_assumption() -> None:
    web = facts(programs=BUSYBOX_WITH_WGET, user="1000", exposed=["8000/tcp"])
    answers = Answers({"ghcr.io/demo/web:1.2.3": web, "redis:7.4.2-alpine": facts(user="999")})
    report = verify_images(catalog(), answers, ["web", "cache"])
    assert [row.service for row in report.services] == ["web", "cache"]
    assert report.services[0].verdict == "pass"
    cache = {check.check: check for check in report.services[1].checks}
    assert cache["probe"].verdict == "warn"  # redis-cli: not among the facts built here
    assert cache["user"].verdict == "pass"
    assert cache["volumes"].verdict == "warn"  # /data: not among the facts built here
    assert report.ok and (report.inspected, report.unreachable) == (2, 0)
    answers.answers["ghcr.io/demo/web:1.2.3"] = facts(programs=BUSYBOX_WITH_WGET, user="0", exposed=["8000/tcp"])
    report = verify_images(catalog(), answers, ["web"])
    assert not report.ok and report.services[0].verdict == "fail"


def test_an_image_that_cannot_be_read_fails_its_service_only() -> None:
    down = InspectFailure(image="redis:7.4.2-alpine", error="registry-1.docker.io: connection refused")
    answers = Answers({"redis:7.4.2-alpine": down, "ghcr.io/demo/web:1.2.3": facts(user="1000")})
    report = verify_images(catalog(), answers, ["cache", "web"])
    assert report.services[0].verdict == "error" and report.services[0].error == down.error
    assert not report.ok and not report.all_unreachable
    assert verify_images(catalog(), answers, ["cache"]).all_unreachable


def test_one_request_per_image() -> None:
    data = catalogs.minimal()
    data["services"]["worker"] = {**data["services"]["web"], "ports": [], "volumes": [{"name": "x", "path": "/x"}]}
    answers = Answers({"ghcr.io/demo/web:1.2.3": facts(user="1000")})
    verify_images(Catalog.model_validate(data), answers, ["web", "worker"])
    assert [(r.service, r.image, r.paths) for r in answers.asked] == [(None, "ghcr.io/demo/web:1.2.3", ["/x"])]


def test_an_unknown_service_is_a_usage_error_with_a_suggestion() -> None:
    with pytest.raises(UnknownService, match="did you mean 'cache'"):
        verify_images(catalog(), Answers({}), ["cahce"])


def test_inspect_a_service_or_an_image() -> None:
    answers = Answers({"ghcr.io/demo/web:1.2.3": facts(), "busybox:1.36.1": facts()})
    shown = inspect(catalog(), "web", answers)
    assert (shown.service, shown.probe_program) == ("web", "wget")
    shown = inspect(None, "busybox:1.36.1", answers)
    assert (shown.service, shown.image, answers.asked[-1].paths) == (None, "busybox:1.36.1", [])
    with pytest.raises(UsageError, match=r"did you mean 'web'.*give its tag"):
        inspect(catalog(), "wbe", answers)
    with pytest.raises(UsageError, match="has no tag"):
        inspect(None, "library/busybox", answers)
    failing = Answers({"busybox:1.36.1": InspectFailure(image="busybox:1.36.1", error="401: login refused")})
    with pytest.raises(Unavailable, match=re.escape("busybox:1.36.1: 401: login refused")):
        inspect(None, "busybox:1.36.1", failing)
