"""Project-wide settings: TLS, where phase 2 plugs into the cluster, and the Kestra flows."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from .types import IMAGE_RE, SecretName, Slug, Strict, hint


class Tls(Strict):
    acme_email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    issuer: Slug = Field(default="letsencrypt", description="ACME resolver (phase 1) / cert-manager issuer (phase 2).")


class KubernetesSettings(Strict):
    """Where phase 2 plugs into the cluster."""

    ingress_class: Slug = Field(default="nginx", description="IngressClass of the cluster's ingress controller.")
    ingress_namespace: Slug = Field(
        default="ingress-nginx", description="Namespace of the ingress controller (allowed in by the NetworkPolicies)."
    )
    monitoring_namespace: Slug = Field(default="monitoring", description="Namespace of Prometheus (allowed to scrape).")
    storage_class: Slug | None = Field(default=None, description="StorageClass for volumes (default: the cluster's).")


# Kestra namespaces are dotted lowercase names (e.g. aipair.platform).
KestraNamespace = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$")]
hint(KestraNamespace, "write a dotted lowercase name such as aipair.platform")
# Five-field cron, as Kestra's Schedule trigger takes it (a quick shape check; Kestra validates the rest).
Cron = Annotated[str, StringConstraints(pattern=r"^(@(yearly|annually|monthly|weekly|daily|hourly)|(\S+\s+){4}\S+)$")]
hint(Cron, "write a five-field cron expression such as '0 5 * * 1-5' or @daily")


class KestraSettings(Strict):
    """How the version-validation flows in kestra-flows/ run (aipair flows render/register)."""

    namespace: KestraNamespace | None = Field(
        default=None, description="Kestra namespace of the flows (default: <project.namespace>.platform)."
    )
    schedule: Cron = Field(default="0 5 * * 1-5", description="When the watch flow looks for new versions.")
    timezone: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$")] = "UTC"
    runner: Literal["docker", "process"] = Field(
        default="docker",
        description="docker: each task in the aipair image (production); process: on the "
        "Kestra worker itself, which needs aipair, git and Docker access (local use).",
    )
    task_image: Annotated[str, StringConstraints(pattern=IMAGE_RE.pattern)] = Field(
        default="ghcr.io/ai-pair/aipair:0.1.0", description="The aipair image for the docker runner (Dockerfile)."
    )
    repository: Annotated[str, StringConstraints(min_length=1, pattern=r"^[^\s'\"`${}\\]+$")] = Field(
        description="Git URL (or path) of the repository that holds this catalog; the flows clone it."
    )
    branch: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/-]+$")] = "main"
    catalog_path: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/-]+$")] = Field(
        default="catalog.yaml", description="The catalog's path inside the repository."
    )
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

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> KestraSettings:
        if self.propose == "webhook" and self.notify_secret is None:
            raise ValueError("propose: webhook needs notify_secret (the Kestra secret holding the webhook URL)")
        return self
