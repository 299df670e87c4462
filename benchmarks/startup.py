"""Start-up budget (issue 10): CPU time (user + sys of the child, steadier than wall time on a shared
machine) of `aipair render --phase mvp --json` beside `docker-compose config -q` on the very file it
rendered, and of `aipair --help`, in one run.

Targets: render <= 1.5x Compose; `aipair --help` <= 0.10 s.

    python benchmarks/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def cpu_seconds(command: list[str], cwd: Path) -> float:
    """user + sys of one child process (and its children), from wait4's rusage."""
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "NO_COLOR": "1"}
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0,):
        raise SystemExit(
            f"{' '.join(command)} exited {process.returncode}: "
            f"{process.stderr.read().decode() if process.stderr else ''}"
        )
    return usage.ru_utime + usage.ru_stime


def median_cpu(command: list[str], cwd: Path, runs: int) -> float:
    cpu_seconds(command, cwd)  # warm the page cache and .pyc files
    return statistics.median(cpu_seconds(command, cwd) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    aipair = str(BIN / "aipair")
    compose = str(BIN / "docker-compose") if (BIN / "docker-compose").exists() else shutil.which("docker-compose")
    if compose is None:
        raise SystemExit("docker-compose is missing: run `make setup`")
    with tempfile.TemporaryDirectory(prefix="aipair-startup-") as tmp:
        work = Path(tmp)
        shutil.copy(ROOT / "catalog.yaml", work / "catalog.yaml")
        subprocess.run([aipair, "render", "--phase", "mvp", "--json"], cwd=work, check=True, capture_output=True)
        render = median_cpu([aipair, "render", "--phase", "mvp", "--json"], work, args.runs)
        reference = median_cpu([compose, "-f", "compose/docker-compose.yml", "config", "-q"], work, args.runs)
        help_cpu = median_cpu([aipair, "--help"], work, args.runs)
        bare = median_cpu([sys.executable, "-S", "-c", "pass"], work, args.runs)
    print(f"CPU time (user+sys), median of {args.runs} runs; Python's own start (-S): {bare * 1000:.0f} ms")
    print(f"{'command':<44} {'cpu ms':>8} {'ratio':>7} {'target':>10}")
    print(f"{'docker-compose config -q (reference)':<44} {reference * 1000:8.0f} {1.0:7.2f}")
    print(f"{'aipair render --phase mvp --json':<44} {render * 1000:8.0f} {render / reference:7.2f} {'<= 1.50x':>10}")
    print(f"{'aipair --help':<44} {help_cpu * 1000:8.0f} {'':>7} {'<= 100 ms':>10}")


if __name__ == "__main__":
    main()
