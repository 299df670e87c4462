"""Wall time of `upgrade validate` of a candidate with three dependencies beside plain `compose up --wait`.

Same engine, same services, same rendered Compose file, in one run: the ops function
(aipair.ops.upgrade.validate.validate: fresh throw-away secrets, up --wait, the candidate's smoke tests,
logs, down --volumes) beside `docker compose up --detach --wait` + `down --volumes` of the file it
renders for the same candidate. The images are made locally from the busybox binary (as the engine
tests do): web (the candidate, 1.1.0) depends on cache, db and queue, each a small HTTP server with a
health check. The candidate has an http, a command and a host smoke test (a Python fetching {url}).
Issue 16 asks for the figures, not a target.

Needs a Docker engine (DOCKER_HOST or the local socket) and a static busybox.

    python benchmarks/validate_with_deps.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import docker

from aipair.catalog import load_catalog
from aipair.engines.compose import ComposeProject
from aipair.ops.upgrade.validate import prepare_project, validate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers.shell_images import SERVE, import_shell_images  # noqa: E402  (the engine tests' busybox images)

PROJECT = "benchvalidate"  # the throw-away project is benchvalidate-validate-web; plain Compose: benchvalidate-plain
REPOSITORY = "aipair-bench"  # local images only: nothing is pushed or pulled
DEPENDENCIES = ("cache", "db", "queue")
HEALTH = {
    "type": "http", "port": 8000, "path": "/healthz", "probe": "wget",
    "interval": "1s", "retries": 5, "start_period": "1s", "timeout": "2s",
}  # fmt: skip
FETCH = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())"


def make_images(client: docker.DockerClient) -> None:
    for name in DEPENDENCIES:
        import_shell_images(client, f"{REPOSITORY}/{name}", {"1.0.0": SERVE.format(text=f"ok {name} 1.0.0")})
    import_shell_images(
        client, f"{REPOSITORY}/web", {tag: SERVE.format(text=f"ok web {tag}") for tag in ("1.0.0", "1.1.0")}
    )


def write_catalog(path: Path) -> Path:
    services: dict[str, object] = {
        name: {
            "layer": "data", "kind": "stateful", "mock": False, "init": True,
            "image": f"{REPOSITORY}/{name}:1.0.0", "ports": [{"port": 8000}], "health": HEALTH,
            "volumes": [{"name": "data", "path": "/data"}],
        }
        for name in DEPENDENCIES
    }  # fmt: skip
    services["web"] = {
        "layer": "application", "mock": False, "init": True, "image": f"{REPOSITORY}/web:1.0.0",
        "ports": [{"port": 8000}], "health": HEALTH, "depends_on": list(DEPENDENCIES),
        "smoke": [
            {"name": "healthz", "http": "/healthz", "contains": "ok web 1.1.0"},
            {"name": "shell", "command": ["cat", "/www/healthz"], "contains": "ok"},
            {"name": "fetch", "host": [sys.executable, "-c", FETCH, "{url}/healthz"], "contains": "ok web"},
        ],
    }  # fmt: skip
    catalog = {
        "version": 1,
        "project": {"name": PROJECT, "domain": "bench.example.com", "tls": {"acme_email": "o@bench.example.com"}},
        "services": services,
    }
    path.write_text(json.dumps(catalog))  # JSON is YAML
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (the median is shown)")
    args = parser.parse_args()
    client = docker.from_env(timeout=120)
    make_images(client)
    results: dict[str, list[float]] = {"aipair upgrade validate": [], "compose up --wait + down -v": []}
    with tempfile.TemporaryDirectory(prefix="aipair-validate-bench-") as tmp:
        catalog = load_catalog(write_catalog(Path(tmp) / "catalog.yaml"))
        plain_dir = Path(tmp) / "plain"
        plain_dir.mkdir()
        rendered, _ = prepare_project(catalog, "web", "1.1.0", plain_dir, host=None)  # the very same file
        plain = ComposeProject(f"{PROJECT}-plain", rendered.file, plain_dir)
        try:
            for _ in range(args.runs):
                start = time.perf_counter()
                report = validate(catalog, "web", "1.1.0", timeout=120)
                results["aipair upgrade validate"].append(time.perf_counter() - start)
                assert report.ok and report.torn_down, report.to_json()

                start = time.perf_counter()
                up = plain.run("up", "--detach", "--wait", "--wait-timeout", "120")
                down = plain.run("down", "--volumes", "--remove-orphans", "--timeout", "5")
                results["compose up --wait + down -v"].append(time.perf_counter() - start)
                assert up.returncode == 0 and down.returncode == 0, up.stderr + down.stderr
        finally:
            plain.run("down", "--volumes", "--remove-orphans", "--timeout", "5")
            for image in client.images.list(name=f"{REPOSITORY}/*"):
                client.images.remove(image.id, force=True)
    median = {name: statistics.median(values) for name, values in results.items()}
    ours, theirs = median["aipair upgrade validate"], median["compose up --wait + down -v"]
    print(
        f"validate web 1.1.0 with {len(DEPENDENCIES)} dependencies (4 containers, 3 smoke tests: http, command, "
        f"host), median of {args.runs} runs, same engine, same Compose file"
    )
    for name, values in results.items():
        print(f"  {name:<30}{median[name]:>8.2f} s   (runs: {', '.join(f'{v:.2f}' for v in values)})")
    print(f"  ratio validate / compose      {ours / theirs:>8.2f}×   (overhead {ours - theirs:.2f} s)")


if __name__ == "__main__":
    main()
