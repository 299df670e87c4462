"""`--catalog` pointing at something that is not a small regular file: a clear error, exit 2, fast.

Run as a real process with a deadline and a memory cap: a FIFO without a writer would block a plain
read forever, and /dev/zero would be read until memory runs out.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from aipair.catalog import load_catalog
from aipair.catalog.loader import MAX_CATALOG_BYTES
from aipair.errors import CatalogError

from ..helpers.paths import ROOT

MEMORY_CAP = 1024 * 2**20


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def _validate(path: Path | str) -> tuple[int, dict]:
    run = subprocess.run(
        [sys.executable, "-m", "aipair", "catalog", "validate", "--catalog", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=_cap_memory,
        env={**os.environ, "PYTHONPATH": str(ROOT / "cli")},
    )
    assert "Traceback" not in run.stderr, run.stderr
    return run.returncode, json.loads(run.stdout) if run.stdout.strip() else {"stderr": run.stderr}


def _fifo(tmp: Path) -> Path:
    path = tmp / "catalog.yaml"
    os.mkfifo(path)
    return path


def _oversized(tmp: Path) -> Path:
    path = tmp / "catalog.yaml"
    with path.open("wb") as handle:
        handle.truncate(MAX_CATALOG_BYTES + 1)  # sparse: no disk needed
    return path


def _symlink_to(target: Callable[[Path], Path | str]) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        (tmp / "real").mkdir()
        link = tmp / "catalog.yaml"
        link.symlink_to(target(tmp / "real"))
        return link

    return make


CASES: dict[str, tuple[Callable[[Path], Path | str], str]] = {
    "fifo": (_fifo, "not a regular file"),
    "dev-zero": (lambda tmp: "/dev/zero", "not a regular file"),
    "dev-null": (lambda tmp: "/dev/null", "not a regular file"),
    "oversized": (_oversized, "at most"),
    "symlink-to-fifo": (_symlink_to(_fifo), "not a regular file"),
    "symlink-to-dev-zero": (_symlink_to(lambda tmp: "/dev/zero"), "not a regular file"),
    "symlink-to-oversized": (_symlink_to(_oversized), "at most"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_catalog_that_is_not_a_small_regular_file_is_refused(tmp_path: Path, case: str) -> None:
    make, expected = CASES[case]
    path = make(tmp_path)
    code, output = _validate(path)
    assert code == 2, output
    [problem] = output["problems"]
    assert problem["file"] == str(path)
    assert expected in problem["message"]


@pytest.mark.parametrize("case", ["fifo", "dev-zero", "directory", "oversized"])
def test_the_loader_refuses_them_too(tmp_path: Path, case: str) -> None:
    """Library callers (ops, tests) reach load_catalog without the CLI's option checks."""
    path = {
        "fifo": lambda: _fifo(tmp_path),
        "dev-zero": lambda: Path("/dev/zero"),
        "directory": lambda: tmp_path,
        "oversized": lambda: _oversized(tmp_path),
    }[case]()
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    [problem] = caught.value.problems
    assert problem.file == str(path)
    assert ("at most" if case == "oversized" else "not a regular file") in problem.message


def test_a_proc_file_reporting_size_zero_is_read_within_the_bound() -> None:
    """Regular files may lie about their size (/proc): the read itself is bounded."""
    code, output = _validate("/proc/self/status")
    assert code == 2 and output["problems"][0]["file"] == "/proc/self/status"
