"""Options shared by several commands, defined once so they read the same everywhere."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

if TYPE_CHECKING:
    from ..catalog.model import Catalog


class PhaseChoice(str, Enum):
    mvp = "mvp"
    scale = "scale"


class ProfileChoice(str, Enum):
    real = "real"
    mock = "mock"


class RunnerChoice(str, Enum):
    docker = "docker"
    process = "process"


DEFAULT_CATALOG = Path("catalog.yaml")

CatalogOption = Annotated[
    Path,
    typer.Option(
        "--catalog",
        "-c",
        envvar="AIPAIR_CATALOG",
        help="The service catalog to read.",
        show_default=True,
        dir_okay=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout (for CI).")]
HostOption = Annotated[
    Optional[str],
    typer.Option("--host", help="Engine to use: ssh://user@host (default: DOCKER_HOST or the local socket)."),
]
ProfileOption = Annotated[
    ProfileChoice,
    typer.Option(
        "--profile", help="real images, or mock: local stand-ins that keep names, ports and health endpoints (offline)."
    ),
]
OutOption = Annotated[
    Optional[Path], typer.Option("--out", "-o", help="Output root (default: the catalog's folder).", file_okay=False)
]
CheckOption = Annotated[
    bool,
    typer.Option(
        "--check",
        help="Write nothing; exit 1 and show a diff if the files on disk differ from what the catalog renders.",
    ),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first (CI).")]
HealthTimeoutOption = Annotated[int, typer.Option("--timeout", help="Seconds to wait for health.", min=10)]
StackOption = Annotated[Optional[str], typer.Option("--stack", help="Pulumi stack (phase scale), e.g. dev or prod.")]
BackendOption = Annotated[
    Optional[str],
    typer.Option("--backend", help="Pulumi state backend URL (default: a local file backend in stacks/.pulumi)."),
]
RunnerOption = Annotated[
    Optional[RunnerChoice],
    typer.Option(
        "--runner",
        help="Override the catalog's task runner: docker (the aipair image, production) or process "
        "(on the Kestra worker itself: local use and tests).",
    ),
]
ServerOption = Annotated[str, typer.Option("--server", envvar="KESTRA_URL", help="Kestra's URL.")]
HttpTimeoutOption = Annotated[float, typer.Option("--timeout", help="Seconds to wait for each HTTP answer.", min=1)]
DEFAULT_SERVER = "http://localhost:8080"


def load(path: Path) -> Catalog:
    """Load and validate the catalog (CatalogError names file, line and field)."""
    from ..catalog import load_catalog

    return load_catalog(path)
