"""Wall time of `aipair deploy --phase mvp --profile mock` beside plain `compose up -d --wait`.

Same engine, same rendered file (compose/docker-compose.mock.yml of a copy of catalog.yaml), same
run: cold (after `down --volumes`) and a no-change re-deploy. Targets (issue 3): aipair's overhead
over plain Compose under 20% cold and under 2 s on a no-change re-deploy.

Needs a Docker engine (DOCKER_HOST or the local socket; `scripts/local-engine.sh` starts one).

    python benchmarks/deploy_mvp.py [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (the median is shown)")
    args = parser.parse_args()
    aipair = str(BIN / "aipair")
    with tempfile.TemporaryDirectory(prefix="aipair-deploy-bench-") as tmp:
        work = Path(tmp)
        shutil.copy(ROOT / "catalog.yaml", work / "catalog.yaml")
        deploy = [aipair, "deploy", "--phase", "mvp", "--profile", "mock", "--json"]
        down = [aipair, "down", "--volumes", "--yes", "--profile", "mock"]
        plain = [
            str(BIN / "docker-compose"),
            "--project-name",
            "aipair",
            "--project-directory",
            "compose",
            "--file",
            "compose/docker-compose.mock.yml",
            "up",
            "--detach",
            "--wait",
            "--remove-orphans",
        ]
        subprocess.run([aipair, "render", "--phase", "mvp"], cwd=work, check=True, capture_output=True)
        subprocess.run([aipair, "mocks", "build"], cwd=work, check=True, capture_output=True)
        subprocess.run(down, cwd=work, capture_output=True)
        results: dict[str, list[float]] = {
            "aipair cold": [],
            "aipair no-change": [],
            "compose cold": [],
            "compose no-change": [],
        }
        try:
            for _ in range(args.runs):
                results["aipair cold"].append(timed(deploy, work))
                results["aipair no-change"].append(timed(deploy, work))
                subprocess.run(down, cwd=work, check=True, capture_output=True)
                results["compose cold"].append(timed(plain, work))
                results["compose no-change"].append(timed(plain, work))
                subprocess.run(down, cwd=work, check=True, capture_output=True)
        finally:
            subprocess.run(down, cwd=work, capture_output=True)
    median = {name: statistics.median(values) for name, values in results.items()}
    services = 29
    print(f"deploy of the default catalog ({services} services, mock profile), median of {args.runs} runs, same engine")
    print(f"{'':<12}{'aipair s':>10}{'compose s':>11}{'overhead s':>12}{'overhead %':>12}")
    for phase in ("cold", "no-change"):
        ours, theirs = median[f"aipair {phase}"], median[f"compose {phase}"]
        print(f"{phase:<12}{ours:>10.2f}{theirs:>11.2f}{ours - theirs:>12.2f}{(ours / theirs - 1) * 100:>11.0f}%")
    cold_overhead = median["aipair cold"] / median["compose cold"] - 1
    rerun_overhead = median["aipair no-change"] - median["compose no-change"]
    print(
        f"targets: cold overhead < 20% ({'met' if cold_overhead < 0.2 else 'NOT met'}: {cold_overhead * 100:.0f}%), "
        f"no-change overhead < 2 s ({'met' if rerun_overhead < 2 else 'NOT met'}: {rerun_overhead:.2f} s)"
    )


if __name__ == "__main__":
    main()
