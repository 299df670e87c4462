"""Time `aipair render` end to end (CLI start included): phase mvp beside `docker-compose config`,
phase scale on its own.

Prints one row per catalog: the default one and generated catalogs of 10, 100 and 1,000
services. The reference is the real Compose binary parsing the very file aipair rendered, in the
same run. Targets (issue 2): default catalog under 300 ms; cost linear in the number of services.

Phase scale (issue 4): under 1 s for the default catalog, linear growth.

    python benchmarks/render_mvp.py [--runs N]
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

import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def generated_catalog(count: int) -> dict:
    """``count`` services shaped like a platform: data services at the bottom, orchestration on data,
    applications on both, management on nothing. Dependency depth stays at most 3, as in real stacks
    (Compose's own `config` slows down exponentially on long diamond-shaped chains: see the note)."""
    layers = ["data", "orchestration", "application", "management"]
    services: dict[str, dict] = {
        "proxy": {
            "layer": "management",
            "phases": ["mvp"],
            "image": "traefik:v3.3.4",
            "ports": [{"name": "web", "port": 80, "publish": 80}, {"name": "websecure", "port": 443, "publish": 443}],
            "health": {"type": "command", "command": ["traefik", "healthcheck", "--ping"]},
            "docker_socket": True,
        }
    }
    secrets: dict[str, dict] = {}
    for index in range(count - 1):
        name = f"svc-{index:04d}"
        secret = f"SVC_{index:04d}_KEY"
        secrets[secret] = {"generate": {}}
        service = {
            "layer": layers[index % 4],
            "kind": "stateful" if index % 5 == 0 else "stateless",
            "image": f"ghcr.io/example/{name}:1.{index % 7}.{index % 3}",
            "env": {"LOG_LEVEL": "info", "API_KEY": f"${{{secret}}}", "PUBLIC_URL": f"https://{name}.{{domain}}"},
            "ports": [
                {
                    "name": "http",
                    "port": 8080,
                    **({"public": {"hostname": f"{name}.{{domain}}"}} if index % 3 == 0 else {}),
                }
            ],
            "health": {
                "type": "http",
                "port": 8080,
                "path": "/healthz",
                "probe": ["curl", "wget", "node", "bash"][index % 4],
            },
            "depends_on": _dependencies(index),
            "resources": {"cpus": 0.25, "memory": "256Mi"},
        }
        if service["kind"] == "stateful":
            service["volumes"] = [{"name": "data", "path": "/var/lib/data", "size": "5Gi"}]
        services[name] = service
    return {
        "version": 1,
        "project": {
            "name": "bench",
            "domain": "bench.example.com",
            "reverse_proxy": "proxy",
            "tls": {"acme_email": "ops@bench.example.com"},
        },
        "secrets": secrets,
        "services": services,
    }


def _dependencies(index: int) -> list[str]:
    """Layer by index % 4: 0 data (none), 1 orchestration (the 1 nearest data service), 2 application
    (the 2 nearest data services and the nearest orchestration one), 3 management (none)."""
    tier = index % 4
    data = [i for i in range(index - 1, -1, -1) if i % 4 == 0][:2]
    orchestration = [i for i in range(index - 1, -1, -1) if i % 4 == 1][:1]
    chosen = data[:1] if tier == 1 else data + orchestration if tier == 2 else []
    return [f"svc-{dep:04d}" for dep in chosen]


def timed(command: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per measurement (the median is shown)")
    args = parser.parse_args()
    aipair, compose = BIN / "aipair", BIN / "docker-compose"
    rows = []
    with tempfile.TemporaryDirectory(prefix="aipair-bench-") as tmp:
        cases = [("default catalog.yaml", ROOT / "catalog.yaml")]
        for count in (10, 100, 1000):
            path = Path(tmp) / f"generated-{count}.yaml"
            path.write_text(yaml.safe_dump(generated_catalog(count), sort_keys=False))
            cases.append((f"generated, {count} services", path))
        for label, catalog in cases:
            out = Path(tmp) / f"out-{catalog.stem}"
            out.mkdir()
            render = [str(aipair), "render", "--phase", "mvp", "--json", "--catalog", str(catalog), "--out", str(out)]
            subprocess.run(render, check=True, capture_output=True)  # first run creates compose/.env
            services = len(yaml.safe_load(catalog.read_text())["services"])
            runs = max(3, args.runs if services < 500 else args.runs // 2)
            ours = timed(render, runs)
            human = timed([c for c in render if c != "--json"], runs)  # rich tables and the report
            theirs = timed([str(compose), "-f", str(out / "compose" / "docker-compose.yml"), "config", "-q"], runs)
            scale = timed(
                [str(aipair), "render", "--phase", "scale", "--json", "--catalog", str(catalog), "--out", str(out)],
                runs,
            )
            rows.append((label, services, ours, theirs, scale, human))
        shutil.rmtree(tmp, ignore_errors=True)

    print(
        f"aipair render --phase mvp (CLI start included), median of runs; reference: docker-compose config -q "
        f"on the rendered file ({subprocess.run([str(compose), 'version', '--short'], capture_output=True, text=True).stdout.strip()})"
    )
    print("mvp = --json (CI); human = the same with rich tables and the translation report")
    print(
        f"{'catalog':<28}{'services':>9}{'mvp ms':>9}{'human ms':>10}{'ms/svc':>8}{'compose ms':>12}{'mvp/compose':>13}"
        f"{'scale ms':>10}{'ms/svc':>8}"
    )
    for label, services, ours, theirs, scale, human in rows:
        print(
            f"{label:<28}{services:>9}{ours * 1000:>9.0f}{human * 1000:>10.0f}{ours * 1000 / services:>8.2f}"
            f"{theirs * 1000:>12.0f}{ours / theirs:>13.2f}{scale * 1000:>10.0f}{scale * 1000 / services:>8.2f}"
        )
    (_, n100, t100, _, s100, _), (_, n1000, t1000, _, s1000, _) = rows[-2], rows[-1]
    for phase, small, large in (("mvp", t100, t1000), ("scale", s100, s1000)):
        print(
            f"{phase}: growth 100 → 1,000 services: {large / small:.1f}x time for {n1000 / n100:.0f}x services "
            f"(marginal {((large - small) / (n1000 - n100)) * 1000:.2f} ms per added service)"
        )
    default_ms, default_scale_ms, default_human_ms = rows[0][2] * 1000, rows[0][4] * 1000, rows[0][5] * 1000
    print(
        f"default catalog: mvp {default_ms:.0f} ms --json, {default_human_ms:.0f} ms with tables "
        f"(target < 300 ms: {'met' if max(default_ms, default_human_ms) < 300 else 'NOT met'}), "
        f"scale {default_scale_ms:.0f} ms (target < 1 s: {'met' if default_scale_ms < 1000 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
