"""`aipair flows …`: the Kestra flows that validate new component versions on a schedule."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import (
    DEFAULT_CATALOG,
    DEFAULT_SERVER,
    CatalogOption,
    CheckOption,
    HttpTimeoutOption,
    JsonOption,
    OutOption,
    RunnerOption,
    ServerOption,
    load,
)

app = typer.Typer(
    help="Kestra flows that validate new component versions on a schedule: render them from the catalog, "
         "have the server validate them, register them, run them and see their state.\n\n"
         "Server and credentials: --server or KESTRA_URL; KESTRA_USER and KESTRA_PASSWORD (basic auth) or "
         "KESTRA_API_TOKEN. Exit codes: 0 ok, 1 rejected or failed, 2 bad input or unknown flow, "
         "3 server unreachable or credentials refused.\n\n"
         "Example:  aipair flows register --prune --dry-run",
    no_args_is_help=True)


@app.command("render")
def render(catalog: CatalogOption = DEFAULT_CATALOG, runner: RunnerOption = None, out: OutOption = None,
           check: CheckOption = False, json_output: JsonOption = False) -> None:
    """Write kestra-flows/ from the catalog: the scheduled watch flow and the validation flow.

    \b
    Examples:
      aipair flows render
      aipair flows render --runner process --out /tmp/local   (flows for a local Kestra)
    """
    from ..ops.render import render_flow_files
    from .output import conclude, reporting
    from .present.render import show_rendering

    with reporting(json_output):
        result = render_flow_files(load(catalog), catalog, runner=runner.value if runner else None, out=out,
                                   check=check)
        conclude(result, json_output, show_rendering)


@app.command("validate")
def validate(files: Annotated[Optional[list[Path]], typer.Argument(
                 help="Flow files to check instead of the rendered flows.", exists=True, dir_okay=False)] = None,
             catalog: CatalogOption = DEFAULT_CATALOG, runner: RunnerOption = None,
             server: ServerOption = DEFAULT_SERVER,
             timeout: HttpTimeoutOption = 30.0, json_output: JsonOption = False) -> None:
    """Have the Kestra server validate the flows without saving them; every error with its flow and path.

    \b
    Examples:
      aipair flows validate
      aipair flows validate my-flow.yml --server https://kestra.example.com
    """
    from ..engines.kestra import client_from_environment
    from ..ops import flows
    from .output import conclude, reporting
    from .present.flows import show_validation

    with reporting(json_output):
        if files:
            sources = flows.read_flow_files(files)
        else:
            sources = flows.rendered_flows(load(catalog), catalog, runner.value if runner else None)
        with client_from_environment(server, timeout=timeout) as client:
            result = flows.validate(client, sources)
        conclude(result, json_output, show_validation)


@app.command("register")
def register(catalog: CatalogOption = DEFAULT_CATALOG, runner: RunnerOption = None,
             server: ServerOption = DEFAULT_SERVER,
             prune: Annotated[bool, typer.Option("--prune", help="Also delete flows of the namespace that are no "
                                                                 "longer rendered (they are listed first).")] = False,
             yes: Annotated[bool, typer.Option("--yes", "-y", help="Prune without asking (CI).")] = False,
             dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be created, updated and "
                                                                     "deleted; change nothing.")] = False,
             timeout: HttpTimeoutOption = 30.0, json_output: JsonOption = False) -> None:
    """Validate on the server, then create or update every rendered flow in its namespace.

    Flows of the namespace that are no longer rendered are kept unless --prune. Registering the
    same flows again changes nothing (the revisions stay).

    \b
    Examples:
      aipair flows register
      aipair flows register --prune --dry-run
      aipair flows register --runner process --server http://localhost:8080
    """
    from ..engines.kestra import client_from_environment
    from ..ops import flows
    from .output import asker, conclude, reporting
    from .present.flows import show_register

    with reporting(json_output):
        loaded = load(catalog)
        rendered = flows.rendered_flows(loaded, catalog, runner.value if runner else None)
        with client_from_environment(server, timeout=timeout) as client:
            result = flows.register_flows(client, loaded.project.kestra_namespace, rendered, prune=prune,
                                          dry_run=dry_run, confirm=asker(yes))
        conclude(result, json_output, show_register)


@app.command("run")
def run(flow: Annotated[str, typer.Argument(help="Flow id (in the catalog's namespace) or namespace.id.")],
        inputs: Annotated[Optional[list[str]], typer.Option("--input", "-i",
                                                            help="An input as NAME=VALUE; repeat it.")] = None,
        catalog: CatalogOption = DEFAULT_CATALOG, server: ServerOption = DEFAULT_SERVER,
        wait: Annotated[float, typer.Option("--wait", min=1, help="Seconds to follow the execution before giving up "
                                                                  "(it keeps running on the server).")] = 3600.0,
        timeout: HttpTimeoutOption = 30.0, json_output: JsonOption = False) -> None:
    """Start an execution and follow it live; the exit code is its final state (0 success, 1 failed).

    Example:  aipair flows run validate-candidate -i service=qdrant -i version=v1.13.5
    """
    from ..engines.kestra import client_from_environment
    from ..ops import flows
    from .output import conclude, reporting
    from .present.flows import live_execution, show_run

    with reporting(json_output):
        values = flows.parse_inputs(inputs or [])
        namespace, flow_id = flows.flow_ref(load(catalog), flow)
        with client_from_environment(server, timeout=timeout) as client, live_execution(json_output) as show:
            result = flows.run(client, namespace, flow_id, values, timeout=wait, on_change=show)
        conclude(result, json_output, show_run)


@app.command("status")
def status(catalog: CatalogOption = DEFAULT_CATALOG, runner: RunnerOption = None, server: ServerOption = DEFAULT_SERVER,
           timeout: HttpTimeoutOption = 30.0, json_output: JsonOption = False) -> None:
    """Each rendered flow on the server: revision, in sync with the catalog or not, last execution.

    Exit code 1 when a flow is missing or differs (run `aipair flows register`).

    Example:  aipair flows status --json
    """
    from ..engines.kestra import client_from_environment
    from ..ops import flows
    from .output import conclude, reporting
    from .present.flows import show_status

    with reporting(json_output):
        loaded = load(catalog)
        rendered = flows.rendered_flows(loaded, catalog, runner.value if runner else None)
        with client_from_environment(server, timeout=timeout) as client:
            result = flows.flows_status(client, loaded.project.kestra_namespace, rendered)
        conclude(result, json_output, show_status)
