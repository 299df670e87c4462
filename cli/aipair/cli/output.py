"""Where output goes: rich on a terminal (stdout for results, stderr for progress and problems), JSON
for `--json`. Failures become a message (or JSON) and their exit code, never a traceback.

This is the one boundary to the terminal: every console here is a SafeConsole, which writes the
text it is given with its control characters made visible (aipair.cli.sanitize), so a server's
message, a container's log or a file's contents cannot drive the terminal whichever presenter shows
it. Presenters still escape() outside text that goes into markup, so it is shown and not obeyed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

from ..errors import AipairError, CatalogError, Problem
from ..redact import redact_urls_in
from ..results import Result
from . import exits
from .sanitize import terminal_safe

if TYPE_CHECKING:
    from rich.console import Console
    from rich.segment import Segment
    from rich.table import Table

    from ..ops.callbacks import Confirm, Progress


def _safe_console_class() -> type[Console]:
    """SafeConsole, made when first needed so that `--json` runs never import rich."""
    global _SAFE_CONSOLE
    if _SAFE_CONSOLE is not None:
        return _SAFE_CONSOLE
    from rich.console import Console
    from rich.segment import Segment

    class SafeConsole(Console):
        """A rich Console that keeps its own control codes (colours, the live display's cursor moves)
        and makes every control character of the text visible; it writes no hyperlinks."""

        def _render_buffer(self, buffer: Iterable[Segment]) -> str:
            def clean(segments: Iterable[Segment]) -> Iterator[Segment]:
                for text, style, control in segments:
                    if control:  # rich's own cursor and screen controls: no text of ours is in them
                        yield Segment(text, style, control)
                        continue
                    if style is not None and style.link:
                        style = style.update_link(None)
                    yield Segment(terminal_safe(text), style)

            return super()._render_buffer(clean(buffer))

    _SAFE_CONSOLE = SafeConsole
    return SafeConsole


_SAFE_CONSOLE: type[Console] | None = None


def make_console(**options: Any) -> Console:
    """A SafeConsole with rich's ``options`` (every console aipair prints through is one)."""
    return _safe_console_class()(**options)


class LazyConsole:
    """A rich Console made on first use: `--json` runs never import rich (about 35 ms of start-up)."""

    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def console(self) -> Console:
        if self._console is None:
            self._console = make_console(stderr=self._stderr, highlight=False, soft_wrap=True)
        return self._console

    def print(self, *objects: object, highlight: bool | None = None) -> None:
        self.console().print(*objects, highlight=highlight)


out = LazyConsole(stderr=False)
err = LazyConsole(stderr=True)


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def table(title: str, columns: list[str], *, fold: bool = True) -> Table:
    """A left-titled table; long cells fold instead of being cut."""
    from rich.table import Table

    view = Table(title=title, title_justify="left")
    for column in columns:
        view.add_column(column, overflow="fold" if fold else "ellipsis")
    return view


def syntax(text: str, language: str) -> object:
    from rich.syntax import Syntax

    return Syntax(text, language, theme="ansi_dark", background_color="default")


def emit_json(payload: object) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, sort_keys=False) + "\n")


def emit(result: Result) -> None:
    emit_json(result.to_json())


R = TypeVar("R", bound=Result)


def conclude(result: R, json_output: bool, show: Callable[[R], None]) -> None:
    """The end of every command that reports: the result as JSON (`--json`) or shown for people by
    ``show``, then its exit code (exits.for_result)."""
    if json_output:
        emit(result)
    else:
        show(result)
    exits.finish(result)


class Failure(Result):
    ok: bool = False
    error: str


class Invalid(Result):
    ok: bool = False
    problems: list[Problem]


def fail(message: str, code: int, json_output: bool) -> NoReturn:
    """Leave with ``message`` (URL credentials hidden) as the JSON error document or one line on
    stderr, and exit ``code``."""
    message = redact_urls_in(message)
    if json_output:
        emit(Failure(error=message))
    else:
        err.print(f"[bold red]✗[/] {escape(message)}")
    raise typer.Exit(int(code))


@contextmanager
def reporting(json_output: bool) -> Iterator[None]:
    """Turn an AipairError into a message (or JSON) and its exit code; never a traceback."""
    try:
        yield
    except CatalogError as exc:
        if json_output:
            emit(Invalid(problems=exc.problems))
        else:
            count = len(exc.problems)
            err.print(f"[bold red]✗ {count} problem{'s' if count != 1 else ''} in the catalog[/]")
            for problem in exc.problems:
                err.print(f"  {escape(str(problem))}")
        raise typer.Exit(int(exits.for_error(exc))) from None
    except AipairError as exc:
        fail(str(exc), exits.for_error(exc), json_output)


@contextmanager
def progress(json_output: bool) -> Iterator[Progress]:
    """A live status line for long work; silent with --json."""
    if json_output:
        yield lambda _message: None
        return
    with err.console().status("starting") as status:

        def report(message: str) -> None:
            status.update(escape(message))
            err.print(f"[dim]· {escape(message)}[/]")

        yield report


def asker(yes: bool) -> Confirm:
    """--yes answers every question; otherwise the terminal asks (no on a bare Enter)."""
    if yes:
        return lambda _question: True
    return lambda question: typer.confirm(terminal_safe(question), default=False)  # it may name outside things
