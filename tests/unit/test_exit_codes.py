"""Exit codes come from one module (aipair.cli.exits): each kind of error and each verdict maps to one."""

from __future__ import annotations

import pytest

from aipair.cli.exits import ExitCode, for_error, for_result
from aipair.engines.compose import ComposeMissing
from aipair.engines.docker import EngineUnavailable
from aipair.engines.kestra import KestraError, KestraNotFound, KestraUnavailable
from aipair.engines.pulumi import SecretsMissing
from aipair.errors import AipairError, CatalogError, Declined, UnknownService, UsageError
from aipair.ops.flows import StatusResult
from aipair.ops.upgrade.report import CheckReport, CheckRow


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (AipairError("x"), ExitCode.FAILED),
        (Declined("nothing changed"), ExitCode.FAILED),
        (KestraError("refused"), ExitCode.FAILED),
        (UsageError("bad"), ExitCode.USAGE),
        (CatalogError([]), ExitCode.USAGE),
        (UnknownService("qdrnt", ["qdrant"]), ExitCode.USAGE),
        (KestraNotFound("no flow"), ExitCode.USAGE),
        (SecretsMissing("set them"), ExitCode.USAGE),
        (EngineUnavailable("no engine"), ExitCode.UNAVAILABLE),
        (ComposeMissing("no compose"), ExitCode.UNAVAILABLE),
        (KestraUnavailable("down"), ExitCode.UNAVAILABLE),
    ],
)
def test_each_kind_of_error_has_its_exit_code(error: AipairError, code: ExitCode) -> None:
    assert for_error(error) is code


def test_verdicts_decide_the_exit_code() -> None:
    row = CheckRow(service="web", image="r/web", current="1.0")
    assert for_result(CheckReport(ok=True, due=0, services=[row])) is ExitCode.OK
    assert for_result(CheckReport(ok=True, due=1, services=[row])) is ExitCode.DUE
    assert for_result(CheckReport(ok=False, due=1, services=[row])) is ExitCode.FAILED  # an unread registry wins
    assert for_result(StatusResult(ok=False, namespace="n", server_version="1", flows=[])) is ExitCode.FAILED
    assert for_result(StatusResult(ok=True, namespace="n", server_version="1", flows=[])) is ExitCode.OK


def test_unknown_service_suggests_the_closest_name() -> None:
    assert "did you mean 'qdrant'?" in str(UnknownService("qdrnt", ["qdrant", "redis"]))
