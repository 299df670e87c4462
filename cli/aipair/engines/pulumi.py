"""Phase 2 through Pulumi's Automation API: preview, up, destroy and outputs of a stack in stacks/.

The program is aipair.engines.pulumi_program.build (inline); state lives in a local file backend by default
(stacks/.pulumi, git-ignored) and secrets in the stack's config, encrypted by the passphrase
provider. Missing generated secrets are made on first use; supplied ones must be set by you.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import Field, JsonValue

from ..catalog.model import Catalog
from ..catalog.secrets import GenerateSecret
from ..errors import AipairError, Unavailable, UsageError
from ..redact import redact_url
from ..results import Result
from .files import create_exclusive, remove_stale_temporaries
from .locks import locked
from .secretstore import generate, sign_jwt, signing_order


class PulumiMissing(Unavailable):
    """The Pulumi CLI is not installed."""


class ClusterUnavailable(Unavailable):
    """No kubeconfig for the stack."""


class SecretsMissing(UsageError):
    """Supplied secrets the stack config still lacks."""


class PulumiFailed(AipairError):
    """A Pulumi command failed; the message carries its last lines."""


@contextmanager
def _pulumi_errors() -> Iterator[None]:
    """A failed Pulumi command becomes a message with Pulumi's own last lines, not a traceback."""
    from pulumi.automation.errors import CommandError

    try:
        yield
    except CommandError as exc:
        text = (getattr(exc, "stderr", "") or str(exc)).strip().splitlines()
        raise PulumiFailed("pulumi failed: " + "\n".join(line for line in text[-12:] if line.strip())) from None


PASSPHRASE_FILE = ".passphrase"


class StackResult(Result):
    ok: bool = True
    stack: str
    action: str
    changes: dict[str, int] = Field(default_factory=dict)
    outputs: dict[str, JsonValue] = Field(default_factory=dict)
    generated: list[str] = Field(default_factory=list, serialization_alias="generated_secrets")


def pulumi_cli() -> str:
    found = shutil.which("pulumi") or (
        str(Path.home() / ".pulumi/bin/pulumi") if (Path.home() / ".pulumi/bin/pulumi").exists() else None
    )
    if not found:
        raise PulumiMissing(
            "the Pulumi CLI is not installed (it is not on PyPI): install it from pulumi.com "
            "(`curl -fsSL https://get.pulumi.com | sh`) and put `pulumi` on PATH"
        )
    return found


def kubeconfig_present(config: dict[str, str]) -> bool:
    if config.get("aipair:kubeconfig"):
        return True
    paths = os.environ.get("KUBECONFIG", str(Path.home() / ".kube" / "config")).split(os.pathsep)
    return any(Path(p).is_file() for p in paths if p)


def secret_values_to_add(catalog: Catalog, existing: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Secrets of phase 2 the stack config lacks: (generated values to set, supplied names still missing).

    ``existing`` maps secret name → plain value (as decrypted from the stack config).
    """
    values = dict(existing)
    to_set: dict[str, str] = {}
    missing: list[str] = []
    names = catalog.secrets_for("scale")
    for name in signing_order(catalog, names):
        if values.get(name):
            continue
        secret = catalog.secrets[name]
        if secret.generate is not None:
            values[name] = to_set[name] = generate(secret.generate)
        elif secret.jwt is not None and values.get(secret.jwt.signed_with):
            values[name] = to_set[name] = sign_jwt(secret.jwt, values[secret.jwt.signed_with])
        else:
            missing.append(name)
    return to_set, missing


def passphrase(stacks_dir: Path) -> str:
    """The passphrase encrypting the stacks' secrets: $PULUMI_CONFIG_PASSPHRASE, else stacks/.passphrase.

    The file is made once on first use, under its lock and created exclusively (never replaced, mode 0600
    from the first byte): two first runs at once agree on one passphrase, so no stack is encrypted with a
    passphrase that is then lost.
    """
    if os.environ.get("PULUMI_CONFIG_PASSPHRASE"):
        return os.environ["PULUMI_CONFIG_PASSPHRASE"]
    path = stacks_dir / PASSPHRASE_FILE
    with locked(path):
        remove_stale_temporaries(path)
        if not path.exists():
            create_exclusive(path, generate(GenerateSecret(length=48)) + "\n", mode=0o600)
        elif path.stat().st_mode & 0o077:
            path.chmod(0o600)
        value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise UsageError(
            f"{path} is empty: put back the passphrase your stacks were created with "
            "(or set PULUMI_CONFIG_PASSPHRASE); delete the file only if no stack exists yet"
        )
    return value


def open_stack(catalog: Catalog, root: Path, stack_name: str, *, backend: str | None, create: bool = True) -> Any:
    """The Automation API stack running aipair.stack.build inline: created on first use by a deploy; status and
    destroy (``create=False``) only open one that exists, and say so when it does not."""
    from pulumi import automation as auto

    from .pulumi_program import build

    stacks_dir = root / "stacks"
    stacks_dir.mkdir(exist_ok=True)
    backend_url = backend or os.environ.get("PULUMI_BACKEND_URL") or f"file://{(stacks_dir / '.pulumi').resolve()}"
    if backend_url.startswith("file://"):
        Path(backend_url[len("file://") :]).mkdir(parents=True, exist_ok=True)
    env = {
        "PULUMI_CONFIG_PASSPHRASE": passphrase(stacks_dir),
        "PULUMI_BACKEND_URL": backend_url,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }
    options = auto.LocalWorkspaceOptions(
        work_dir=str(stacks_dir),
        env_vars=env,
        secrets_provider="passphrase",
        pulumi_command=auto.PulumiCommand(root=str(Path(pulumi_cli()).parent.parent)),
    )

    def program() -> None:
        build(catalog)

    if create:
        return auto.create_or_select_stack(stack_name=stack_name, project_name="aipair", program=program, opts=options)
    try:
        return auto.select_stack(stack_name=stack_name, project_name="aipair", program=program, opts=options)
    except auto.StackNotFoundError:
        raise UsageError(
            f"no stack {stack_name!r} in {redact_url(backend_url)}: deploy it first "
            f"(`aipair deploy --phase scale --stack {stack_name}`), or name another with --stack / --backend"
        ) from None


def _prepare(catalog: Catalog, root: Path, stack_name: str, backend: str | None) -> tuple[Any, list[str]]:
    from pulumi import automation as auto

    pulumi_cli()
    stack = open_stack(catalog, root, stack_name, backend=backend)
    config = {key: value.value for key, value in stack.get_all_config().items()}
    if not kubeconfig_present(config):
        raise ClusterUnavailable(
            "no Kubernetes cluster is configured: set KUBECONFIG, or "
            f"`pulumi config set --secret aipair:kubeconfig --stack {stack_name} < ~/.kube/config` in stacks/"
        )
    existing = {key.split(":", 1)[1]: value for key, value in config.items() if key.startswith("aipair:")}
    to_set, missing = secret_values_to_add(catalog, existing)
    for name, value in to_set.items():  # saved before asking for the supplied ones: never made twice
        stack.set_config(f"aipair:{name}", auto.ConfigValue(value=value, secret=True))
    if missing:
        env = stack.workspace.env_vars
        prefix = f"PULUMI_BACKEND_URL={env['PULUMI_BACKEND_URL']} " + (
            ""
            if os.environ.get("PULUMI_CONFIG_PASSPHRASE")
            else f"PULUMI_CONFIG_PASSPHRASE_FILE={(root / 'stacks' / PASSPHRASE_FILE).resolve()} "
        )
        raise SecretsMissing(
            f"set the supplied secrets of stack {stack_name} first, each read from a file (without `< FILE` "
            "pulumi asks for it and does not show it): "
            + "; ".join(
                f"{prefix}pulumi config set --secret aipair:{name} --stack {stack_name} --cwd {(root / 'stacks').resolve()} < FILE"
                for name in missing
            )
        )
    return stack, sorted(to_set)


def preview(
    catalog: Catalog, root: Path, stack_name: str, *, backend: str | None, on_output: Callable[[str], None]
) -> StackResult:
    with _pulumi_errors():
        stack, generated = _prepare(catalog, root, stack_name, backend)
        result = stack.preview(on_output=on_output, diff=True)
        return StackResult(stack=stack_name, action="preview", changes=dict(result.change_summary), generated=generated)


def up(
    catalog: Catalog, root: Path, stack_name: str, *, backend: str | None, on_output: Callable[[str], None]
) -> StackResult:
    with _pulumi_errors():
        stack, generated = _prepare(catalog, root, stack_name, backend)
        result = stack.up(on_output=on_output)
        outputs = {key: value.value for key, value in result.outputs.items()}
        return StackResult(
            stack=stack_name,
            action="up",
            changes=dict(result.summary.resource_changes or {}),
            outputs=outputs,
            generated=generated,
        )


def destroy(
    catalog: Catalog, root: Path, stack_name: str, *, backend: str | None, on_output: Callable[[str], None]
) -> StackResult:
    with _pulumi_errors():
        pulumi_cli()
        stack = open_stack(catalog, root, stack_name, backend=backend, create=False)
        result = stack.destroy(on_output=on_output)
        return StackResult(stack=stack_name, action="destroy", changes=dict(result.summary.resource_changes or {}))


def outputs(catalog: Catalog, root: Path, stack_name: str, *, backend: str | None) -> StackResult:
    with _pulumi_errors():
        pulumi_cli()
        stack = open_stack(catalog, root, stack_name, backend=backend, create=False)
        values = {key: value.value for key, value in stack.outputs().items()}
        resources = len(stack.export_stack().deployment.get("resources", []))
        return StackResult(stack=stack_name, action="status", changes={"resources": resources}, outputs=values)
