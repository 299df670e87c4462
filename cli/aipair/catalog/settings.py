"""Project-wide settings: TLS, where phase 2 plugs into the cluster, and the Kestra flows."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints, ValidationInfo, field_validator, model_validator

from .types import IMAGE_RE, SecretName, Slug, Strict, hint

if TYPE_CHECKING:
    from .model import Project


class Tls(Strict):
    acme_email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    issuer: Slug = Field(default="letsencrypt", description="ACME resolver (phase 1) / cert-manager issuer (phase 2).")


# The Pod Security Standards' levels (pod-security.kubernetes.io/enforce and friends), least to most strict.
PodSecurityLevel = Literal["privileged", "baseline", "restricted"]


class KubernetesSettings(Strict):
    """Where phase 2 plugs into the cluster."""

    ingress_class: Slug = Field(default="nginx", description="IngressClass of the cluster's ingress controller.")
    ingress_namespace: Slug = Field(
        default="ingress-nginx", description="Namespace of the ingress controller (allowed in by the NetworkPolicies)."
    )
    monitoring_namespace: Slug = Field(default="monitoring", description="Namespace of Prometheus (allowed to scrape).")
    storage_class: Slug | None = Field(default=None, description="StorageClass for volumes (default: the cluster's).")
    pod_security: PodSecurityLevel = Field(
        default="baseline",
        description="Pod Security Standard the namespace enforces, warns and audits at (privileged, baseline or "
        "restricted). The translation report lists what would fail at restricted.",
    )


# --- values that reach the Kestra flows and git --------------------------------------------------------

# Kestra's bulk flow API splits its request body on every "---", wherever it appears (FlowController's
# updateNamespace: `flows.split("---")`): no catalog value that reaches a flow may hold one.
DOCUMENT_SEPARATOR = "---"
SEPARATOR_MESSAGE = (
    "must not contain '---': the value is written into the Kestra flows, and Kestra's bulk API splits "
    "flows on every '---'; use a single or double '-'"
)


def no_separator(value: str) -> str:
    if DOCUMENT_SEPARATOR in value:
        raise ValueError(SEPARATOR_MESSAGE)
    return value


# Printable ASCII without space, quotes, `$`, backslash or braces (Kestra's template syntax): what a
# repository URL, branch or path handed to git may hold. They reach the shell only through `env`, but
# none of these characters is ever needed there.
_GIT_SAFE = re.compile(r"^[!#%&(-\[\]-_a-z|~]+$")
_SAFE_MESSAGE = "use printable ASCII only, without spaces, quotes, backquotes, `$`, `{`, `}` or backslashes"
# git's "<transport>::<address>" form hands the address to a remote helper (ext:: runs any command).
_REMOTE_HELPER = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# scp-like syntax: [user@]host:path, recognised by git when no "/" comes before the first ":".
_SCP = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[^@/:]+):(?P<path>.*)$")
GIT_SCHEMES = ("https", "http", "ssh", "git+ssh", "ssh+git", "git", "file")
# What the flows let git use (GIT_ALLOW_PROTOCOL): the schemes above; ext, fd and the rest stay off.
GIT_ALLOW_PROTOCOL = "https:http:ssh:git:file"
CREDENTIALS_MESSAGE = (
    "the URL holds credentials (a user or token before '@'): it would be written into the committed "
    "kestra-flows/*.yml. Remove it from the URL, store the token as a Kestra secret and refer to it: "
    "repository_token: {secret: GIT_TOKEN}"
)


def _check_path(path: str, what: str) -> None:
    """An absolute local path: normalised, no `.` or `..` parts (they would leave the named place)."""
    parts = path.split("/")[1:]
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"{what} must be normalised: no '.', '..' or empty parts")
    if any(part.startswith("-") for part in parts):
        raise ValueError(f"{what}: no part may start with '-' (git would read it as an option)")


def check_repository(value: str) -> str:
    """A git URL or absolute path that git can only read as a repository: no option, no remote helper,
    no credentials (those are a Kestra secret: repository_token), no template."""
    if _has_password(value):
        raise ValueError(CREDENTIALS_MESSAGE)
    if not _GIT_SAFE.match(value):
        raise ValueError(_SAFE_MESSAGE)
    if value.startswith("-"):
        raise ValueError("must not start with '-' (git would read it as an option)")
    if _REMOTE_HELPER.match(value):
        raise ValueError(
            "git's <transport>::<address> form runs a remote helper (ext:: runs any command); "
            "use an https://, ssh:// or git@host:path URL, or an absolute path"
        )
    url = _URL.match(value)
    if url:
        scheme = url.group(1).lower()
        if scheme not in GIT_SCHEMES:
            raise ValueError(f"unsupported URL scheme {scheme!r}; use one of {', '.join(GIT_SCHEMES)}")
        parts = urlsplit(value)
        if parts.query or parts.fragment or value.endswith(("?", "#")):
            raise ValueError("remove the '?…' or '#…' part: git does not need it, and it may carry a token")
        if scheme == "file":
            if parts.netloc or not parts.path.startswith("/"):
                raise ValueError("write a file URL as file:///absolute/path")
            _check_path(parts.path, "the path")
            return value
        if "@" in parts.netloc and (scheme in ("https", "http") or parts.password is not None):
            raise ValueError(CREDENTIALS_MESSAGE)
        host = parts.netloc.rpartition("@")[2]
        if not host or host.startswith("-"):
            raise ValueError("the URL needs a host that does not start with '-'")
        return value
    if value.startswith("/"):
        _check_path(value, "a local repository path")
        return value
    scp = _SCP.match(value)
    if scp:
        if scp.group("host").startswith("-") or (scp.group("user") or "").startswith("-"):
            raise ValueError("the host and user must not start with '-' (ssh would read them as options)")
        if scp.group("path").startswith("-"):
            raise ValueError("the path must not start with '-'")
        return value
    raise ValueError(
        "write a git URL (https://host/org/repo.git, ssh://git@host/org/repo.git, git@host:org/repo.git) "
        "or an absolute path; a relative path means nothing in the flow's working directory"
    )


def _has_password(value: str) -> bool:
    """`user:secret@` before the host, in URL or scp-like form (checked before anything else, so that
    no later message can echo the secret)."""
    url = _URL.match(value)
    authority = value[url.end() :].split("/", 1)[0] if url else value.split("/", 1)[0]
    userinfo = authority.rpartition("@")[0]
    return bool(userinfo) and (":" in userinfo or bool(url and url.group(1).lower() in ("http", "https")))


def check_branch(value: str) -> str:
    """A branch name `git check-ref-format --branch` accepts, never read as an option."""
    if value.startswith("-"):
        raise ValueError("must not start with '-' (git would read it as an option)")
    if value.startswith("/") or value.endswith(("/", ".")) or "//" in value or ".." in value or "@{" in value:
        raise ValueError("not a valid branch name: no leading or trailing '/', no '//', '..' or '@{', no final '.'")
    if any(part.startswith(".") or part.endswith(".lock") for part in value.split("/")) or value == "@":
        raise ValueError("not a valid branch name: no part may start with '.' or end with '.lock'")
    return value


def check_repo_path(value: str) -> str:
    """A file inside the cloned repository: relative, normalised, no way out of it."""
    if value.startswith("/"):
        raise ValueError("must be relative to the repository's root, e.g. catalog.yaml or deploy/catalog.yaml")
    parts = value.split("/")
    if any(part in ("", ".", "..") for part in parts) or PurePosixPath(value).as_posix() != value:
        raise ValueError("must be a normalised path inside the repository: no '.', '..' or empty parts")
    if any(part.startswith("-") for part in parts):
        raise ValueError("no part may start with '-' (a program would read it as an option)")
    return value


def flow_separator_problems(project: Project) -> list[tuple[tuple[str | int, ...], str]]:
    """Project fields written into the Kestra flows (their name, labels, commit author) that hold '---'.

    The kestra settings check themselves; these live on the project, so the catalog checks call this.
    """
    if project.kestra is None:
        return []
    fields: dict[str, Any] = {"name": project.name, "domain": project.domain}
    if project.kestra.namespace is None:  # the flows' namespace is then <namespace>.platform
        fields["namespace"] = project.namespace
    return [(("project", field), SEPARATOR_MESSAGE) for field, value in fields.items() if DOCUMENT_SEPARATOR in value]


# Kestra namespaces are dotted lowercase names (e.g. aipair.platform).
KestraNamespace = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$")]
hint(KestraNamespace, "write a dotted lowercase name such as aipair.platform")
# Five-field cron, as Kestra's Schedule trigger takes it (a quick shape check; Kestra validates the rest).
Cron = Annotated[str, StringConstraints(pattern=r"^(@(yearly|annually|monthly|weekly|daily|hourly)|(\S+\s+){4}\S+)$")]
hint(Cron, "write a five-field cron expression such as '0 5 * * 1-5' or @daily")
FlowText = AfterValidator(no_separator)


class GitToken(Strict):
    """A token for an https repository, kept in a Kestra secret. The flows hand it to git through a
    credential helper that reads it from the environment: never in the URL, a file or a command line."""

    secret: SecretName = Field(description="Kestra secret holding the token (rendered as {{ secret('NAME') }}).")
    username: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"), FlowText] = Field(
        default="x-access-token",
        description="User name sent with the token (GitHub: any; GitLab: oauth2 or the token's user).",
    )


KestraVersion = Annotated[str, StringConstraints(pattern=r"^v?\d+\.\d+(\.\d+)?$")]
hint(KestraVersion, "write a Kestra release such as 1.0.20 or 2.0.0")


class KestraServer(Strict):
    """The catalog service that runs Kestra: the flows render for its image's version, and when it is the
    candidate of `aipair upgrade validate`, the candidate must load them (through its API, basic auth)."""

    service: Slug = Field(default="kestra", description="The service running Kestra (kestra/kestra image).")
    username: Annotated[str, StringConstraints(pattern=r"^[^\s:]{1,128}$")] | None = Field(
        default=None, description="Basic-auth user of the Kestra API (kestra.server.basic-auth.username)."
    )
    password_secret: SecretName | None = Field(
        default=None, description="The catalog secret holding that user's password (e.g. KESTRA_ADMIN_PASSWORD)."
    )


class KestraSettings(Strict):
    """How the version-validation flows in kestra-flows/ run (aipair flows render/register)."""

    namespace: Annotated[KestraNamespace, FlowText] | None = Field(
        default=None, description="Kestra namespace of the flows (default: <project.namespace>.platform)."
    )
    schedule: Annotated[Cron, FlowText] = Field(
        default="0 5 * * 1-5", description="When the watch flow looks for new versions."
    )
    timezone: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$"), FlowText] = "UTC"
    runner: Literal["docker", "process"] = Field(
        default="docker",
        description="docker: each task in the aipair image (production); process: on the "
        "Kestra worker itself, which needs aipair, git and Docker access (local use).",
    )
    task_image: Annotated[str, StringConstraints(pattern=IMAGE_RE.pattern), FlowText] = Field(
        default="ghcr.io/ai-pair/aipair:0.1.0", description="The aipair image for the docker runner (Dockerfile)."
    )
    # Checked by check_repository (not a pattern): a pattern error would echo the value, token included.
    repository: Annotated[str, StringConstraints(min_length=1), AfterValidator(check_repository), FlowText] = Field(
        description="Git URL (https://, ssh://, git@host:path) or absolute path of the repository that holds "
        "this catalog; the flows clone it. No credentials in it: see repository_token."
    )
    repository_token: GitToken | None = Field(
        default=None,
        description="For an https repository that needs one: the Kestra secret holding the token, e.g. "
        "{secret: GIT_TOKEN}. The flows never hold the token itself.",
    )
    branch: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/-]+$"), AfterValidator(check_branch), FlowText] = (
        "main"
    )
    catalog_path: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9._/-]+$"), AfterValidator(check_repo_path), FlowText
    ] = Field(default="catalog.yaml", description="The catalog's path inside the repository.")
    propose: Literal["branch", "webhook", "none"] = Field(
        default="branch",
        description="What a passing candidate becomes: branch = `aipair upgrade apply` committed "
        "on branch aipair/upgrade-<service>-<version> and pushed; webhook = a POST "
        "to the notify webhook; none = only the report.",
    )
    notify_secret: SecretName | None = Field(
        default=None, description="Kestra secret holding the webhook URL for failures (and webhook proposals)."
    )
    validate_timeout: Annotated[int, Field(ge=10, le=7200)] = Field(
        default=600, description="Seconds a candidate may take to become healthy."
    )
    concurrency: Annotated[int, Field(ge=1, le=16)] = Field(
        default=1, description="Validations at once (each starts a throw-away stack on the engine)."
    )
    retries: Annotated[int, Field(ge=0, le=10)] = Field(
        default=2, description="Retries of infrastructure failures (engine down, clone or push failed)."
    )
    server: KestraServer = Field(
        default_factory=KestraServer,
        description="The catalog service running Kestra; its image tag is the version the flows are rendered for.",
    )
    version: KestraVersion | None = Field(
        default=None,
        description="The Kestra version the flows target when Kestra is not a service of this catalog "
        "(default: the server service's image tag; 1.0 without either).",
    )

    @field_validator("repository_token")
    @classmethod
    def _token_over_https(cls, token: GitToken | None, info: ValidationInfo) -> GitToken | None:
        repository = info.data.get("repository")
        if token is not None and repository is not None and not repository.lower().startswith("https://"):
            raise ValueError(
                "a token is sent over https only: make repository an https:// URL "
                "(an ssh repository authenticates with a key in the runner image instead)"
            )
        return token

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> KestraSettings:
        if self.propose == "webhook" and self.notify_secret is None:
            raise ValueError("propose: webhook needs notify_secret (the Kestra secret holding the webhook URL)")
        return self

    @property
    def repository_origin(self) -> str | None:
        """scheme://host[:port] of an https repository: the only place its token is sent."""
        parts = urlsplit(self.repository)
        return f"{parts.scheme.lower()}://{parts.netloc}" if parts.scheme.lower() == "https" else None
