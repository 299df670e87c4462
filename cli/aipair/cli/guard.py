"""The last line of defence around every command: whatever escapes it becomes one clear line (or, with
`--json`, the JSON error document) and an exit code from aipair.cli.exits, never a traceback.

Commands turn aipair's own errors into messages (aipair.cli.output.reporting); this catches the
rest: an operating-system error (a read-only directory, a path through a file), a file that is not
UTF-8, a network error no engine mapped, Ctrl-C, a usage error while `--json` was asked for, and any
bug. The traceback of an unexpected error is shown only when AIPAIR_DEBUG is set. Only typer is
imported here, so `aipair --help` stays fast; the rest comes when something failed.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from ..errors import AipairError

DEBUG_VARIABLE = "AIPAIR_DEBUG"
JSON_FLAG = "aipair.json"


class GuardedGroup(TyperGroup):
    """The root command group: runs the command and maps every exception that leaves it."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's own (vendored) click Context
        ctx.meta[JSON_FLAG] = "--json" in args  # read before click consumes the subcommand's options
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        json_output = bool(ctx.meta.get(JSON_FLAG))
        try:
            return super().invoke(ctx)
        except typer.Exit:  # a command chose its exit code
            raise
        except AipairError as exc:  # raised outside a command's own `reporting`: reported the same way
            from .output import reporting

            with reporting(json_output):
                raise exc from None
        except typer.Abort:  # EOF or Ctrl-C at a question
            _fail("aborted: a question was not answered (use --yes in scripts)", 1, json_output)
        except typer.TyperException as exc:  # bad usage: click explains it with help, or the JSON error does
            if not json_output:
                raise
            _fail(exc.format_message(), getattr(exc, "exit_code", 2), json_output)
        except KeyboardInterrupt:
            from .exits import ExitCode

            _fail("interrupted (Ctrl-C): stopped before finishing", ExitCode.INTERRUPTED, json_output)
        except BrokenPipeError:  # the reader went away (`aipair … | head`): nothing more to say
            _quiet_stdout()
            raise typer.Exit(1) from None
        except Exception as exc:  # noqa: BLE001 - the point of this boundary
            message, code = describe(exc)
            if os.environ.get(DEBUG_VARIABLE):
                _print_traceback(exc)
            _fail(message, code, json_output)


def describe(exc: BaseException) -> tuple[str, int]:
    """A one-line message for an exception nothing else mapped, and its exit code."""
    from .exits import ExitCode

    if isinstance(exc, UnicodeDecodeError):
        return (f"a file is not UTF-8 text ({exc.reason} at byte {exc.start}): save it as UTF-8", ExitCode.USAGE)
    if _is_network_error(exc):
        return f"network error: {exc or type(exc).__name__}", ExitCode.UNAVAILABLE
    if isinstance(exc, OSError):
        where = " → ".join(str(name) for name in (exc.filename, exc.filename2) if name is not None)
        reason = exc.strerror or str(exc) or type(exc).__name__
        return (f"{reason}: {where}" if where else reason), ExitCode.FAILED
    return (
        f"internal error ({type(exc).__name__}: {exc}); this is a bug in aipair or an answer it did not "
        f"expect: run again with {DEBUG_VARIABLE}=1 to see the traceback, and report it",
        ExitCode.INTERNAL,
    )


def _is_network_error(exc: BaseException) -> bool:
    httpx = sys.modules.get("httpx")  # only loaded if a command used the network
    return httpx is not None and isinstance(exc, (httpx.HTTPError, httpx.InvalidURL))


def _fail(message: str, code: int, json_output: bool) -> None:
    from .output import fail

    fail(message, code, json_output)


def _print_traceback(exc: BaseException) -> None:
    import traceback

    from .sanitize import terminal_safe

    sys.stderr.write(terminal_safe("".join(traceback.format_exception(exc))))


def _quiet_stdout() -> None:
    """After a broken pipe: send what is left of stdout nowhere, so exiting does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (a test runner's stdout)
        pass
