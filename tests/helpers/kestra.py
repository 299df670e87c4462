"""The credentials the tests give ContractKestra, and the environment `aipair flows ...` reads them from."""

from __future__ import annotations

from .kestra_contract import ContractKestra

USER, PASSWORD = "admin@kestra.io", "Admin1234"


def kestra_env(server: ContractKestra, **extra: str) -> dict[str, str]:
    return {"KESTRA_URL": server.url, "KESTRA_USER": USER, "KESTRA_PASSWORD": PASSWORD, **extra}
