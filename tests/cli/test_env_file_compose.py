"""compose/.env is read by aipair exactly as the real Compose binary reads it (finding M4).

Differential: for every variant in tests/helpers/envfiles.py, the value aipair's reader returns equals the
value `docker-compose config` interpolates into a service's environment; variants whose value depends on
the deployer's environment are refused by aipair with the file and line.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aipair.cli import app
from aipair.engines.secretstore import EnvFileError, format_assignment, read_env

from ..helpers.catalogs import minimal, write
from ..helpers.envfiles import VARIANTS, Variant

COMPOSE_FILE = "services:\n  s:\n    image: busybox\n    environment:\n      X: ${KEY}\n"


def compose_reads(compose: Path, folder: Path, env_text: str, *, environment: dict[str, str] | None = None) -> str:
    """The value of KEY that the real Compose binary takes from ``env_text`` (with a clean environment)."""
    env_file = folder / "variant.env"
    env_file.write_bytes(env_text.encode("utf-8"))
    (folder / "compose.yml").write_text(COMPOSE_FILE)
    run = subprocess.run(
        [str(compose), "--env-file", str(env_file), "-f", str(folder / "compose.yml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(folder), **(environment or {})},
        check=False,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    value: str = json.loads(run.stdout)["services"]["s"]["environment"]["X"]
    return value.replace("$$", "$")  # `config` prints a Compose file, where a literal `$` is written `$$`


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v.value is not None], ids=lambda v: v.name)
def test_aipair_reads_what_compose_reads(variant: Variant, compose_binary: Path, tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(variant.text.encode("utf-8"))
    ours = read_env(path)["KEY"]
    assert ours == variant.value
    assert compose_reads(compose_binary, tmp_path, variant.text) == ours


@pytest.mark.parametrize(
    "text", ["KEY=a$b\n", "KEY=a${b}c\n", 'KEY="a$b"\n', "KEY=$b\n"], ids=["$b", "${b}", '"$b"', "only $b"]
)
def test_a_value_compose_expands_from_the_environment_is_refused(
    text: str, compose_binary: Path, tmp_path: Path
) -> None:
    """Compose reads a different value depending on the deployer's shell: aipair cannot know which one."""
    without = compose_reads(compose_binary, tmp_path, text)
    with_b = compose_reads(compose_binary, tmp_path, text, environment={"b": "FROM-THE-SHELL"})
    assert without != with_b and "FROM-THE-SHELL" in with_b
    path = tmp_path / ".env"
    path.write_text(text)
    with pytest.raises(EnvFileError, match=rf"{path}:1: .*KEY.*single quotes"):
        read_env(path)


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "Zx9-_",
        "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2ln-_x",
        "with space",
        "a#b",
        "a #b",
        "a$b",
        "${HOME}",
        'a"b',
        "a\\nb",
        "  padded  ",
        "",
        "=",
        "é",
        "a:b/c+d@e%f,g=h",
        "http://h:1/p?x=1&y=2",
    ],
)
def test_written_values_are_read_back_byte_identical_by_compose(
    value: str, compose_binary: Path, tmp_path: Path
) -> None:
    line = format_assignment("KEY", value)
    assert compose_reads(compose_binary, tmp_path, line + "\n") == value
    path = tmp_path / ".env"
    path.write_text(line + "\n")
    assert read_env(path) == {"KEY": value}


@pytest.mark.parametrize("line", ["CACHE_PASSWORD=a$b", "export CACHE_PASSWORD='abc", "CACHE_PASSWORD"])
@pytest.mark.parametrize("json_output", [False, True], ids=["text", "json"])
def test_render_stops_with_file_and_line_and_keeps_the_env_file(line: str, json_output: bool, tmp_path: Path) -> None:
    catalog = write(tmp_path, minimal())
    env_path = tmp_path / "compose" / ".env"
    env_path.parent.mkdir()
    env_path.write_text(f"# kept\n{line}\n")
    result = CliRunner().invoke(app, ["render", "--catalog", str(catalog), *(["--json"] if json_output else [])])
    assert result.exit_code == 2
    shown = json.loads(result.stdout)["error"] if json_output else result.stderr
    assert "compose/.env:2: " in shown and "CACHE_PASSWORD" in shown
    assert "Traceback" not in result.output
    assert env_path.read_text() == f"# kept\n{line}\n", "never a silent rotation"
    assert not (tmp_path / "compose" / "docker-compose.yml").exists(), "nothing rendered is written either"
