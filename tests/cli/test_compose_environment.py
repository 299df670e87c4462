"""The deployer's shell cannot change what aipair runs: compose/.env is the only source of the secrets.

Compose interpolates from the process environment before the project's .env; aipair's Compose runs
drop every variable the .env defines and every COMPOSE_* variable. Checked with the real Compose binary.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aipair.engines.compose import ComposeProject

COMPOSE = """\
services:
  web:
    image: busybox:1.36.1
    environment:
      PASSWORD: ${DB_PASSWORD}
      TOKEN: ${API_TOKEN:-unset}
  extra:
    image: busybox:1.36.1
    profiles: [mock]
"""


@pytest.fixture
def project(tmp_path: Path) -> ComposeProject:
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    (tmp_path / ".env").write_text("DB_PASSWORD=from-env-file\nAPI_TOKEN=token-from-file\n")
    return ComposeProject("envtest", tmp_path / "docker-compose.yml", tmp_path)


@pytest.mark.parametrize(
    "shell",
    [
        {"DB_PASSWORD": "from-the-shell"},
        {"DB_PASSWORD": "", "API_TOKEN": "shell-token"},
        {"API_TOKEN": "shell-token", "COMPOSE_PROFILES": "mock"},
        {"COMPOSE_ENV_FILES": "/dev/null", "COMPOSE_PROJECT_NAME": "other"},
    ],
)
def test_exported_variables_do_not_replace_the_env_file(
    project: ComposeProject, shell: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in shell.items():
        monkeypatch.setenv(name, value)
    ran = project.run("config", "--format", "json")
    assert ran.returncode == 0, ran.stderr
    config = json.loads(ran.stdout)
    assert config["services"]["web"]["environment"] == {"PASSWORD": "from-env-file", "TOKEN": "token-from-file"}
    assert set(config["services"]) == {"web"}, "COMPOSE_PROFILES from the shell activated a profile"
    assert config["name"] == "envtest"


def test_other_variables_still_reach_compose(project: ComposeProject, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", "/somewhere")
    monkeypatch.setenv("DB_PASSWORD", "shadowed")
    env = project.env()
    assert env["DOCKER_CONFIG"] == "/somewhere"
    assert "DB_PASSWORD" not in env
