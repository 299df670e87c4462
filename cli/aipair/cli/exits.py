"""Every exit code aipair gives, decided here and only here.

0 success · 1 failure (unhealthy, rejected, drift, declined) · 2 bad input or usage ·
3 something needed is missing (engine, server, tool, credentials) · 10 upgrade candidates are due ·
70 internal error (a bug, or an answer aipair did not expect; AIPAIR_DEBUG=1 shows the traceback) ·
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

from enum import IntEnum

import typer

from ..errors import AipairError, Unavailable, UsageError
from ..results import Result


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    UNAVAILABLE = 3
    DUE = 10
    INTERNAL = 70  # EX_SOFTWARE in sysexits.h
    INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C


def for_error(error: AipairError) -> ExitCode:
    if isinstance(error, UsageError):
        return ExitCode.USAGE
    if isinstance(error, Unavailable):
        return ExitCode.UNAVAILABLE
    return ExitCode.FAILED


def for_result(result: Result) -> ExitCode:
    """A result with an ``ok`` verdict fails as 1; `upgrade check` says 10 when candidates are due (see CheckReport);
    `catalog verify --images` says 3 when no image could be read at all."""
    from ..ops.images import VerifyReport
    from ..ops.upgrade.report import CheckReport

    if isinstance(result, CheckReport):
        if not result.ok:
            return ExitCode.FAILED
        if result.due:
            return ExitCode.DUE
        return ExitCode.FAILED if result.rejected else ExitCode.OK
    if isinstance(result, VerifyReport) and result.all_unreachable:
        return ExitCode.UNAVAILABLE
    return ExitCode.OK if getattr(result, "ok", True) else ExitCode.FAILED


def finish(result: Result) -> None:
    """Leave with the result's exit code (after it was presented)."""
    code = for_result(result)
    if code is not ExitCode.OK:
        raise typer.Exit(int(code))
