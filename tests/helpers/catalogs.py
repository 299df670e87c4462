"""Small catalogs built in the tests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml


def minimal() -> dict[str, Any]:
    """Three services: a public web app that needs a cache and a one-shot migration job."""
    return copy.deepcopy(
        {
            "version": 1,
            "project": {
                "name": "demo",
                "domain": "demo.example.com",
                "reverse_proxy": "proxy",
                "tls": {"acme_email": "ops@demo.example.com"},
            },
            "secrets": {
                "CACHE_PASSWORD": {"generate": {"length": 24}},
                "API_TOKEN": {"supplied": True, "description": "token from the vendor"},
            },
            "services": {
                "proxy": {
                    "layer": "management",
                    "phases": ["mvp"],
                    "image": "traefik:v3.3.4",
                    "ports": [
                        {"name": "web", "port": 80, "publish": 8080},
                        {"name": "websecure", "port": 443, "publish": 8443},
                    ],
                    "health": {"type": "command", "command": ["traefik", "healthcheck", "--ping"]},
                    "docker_socket": True,
                    "public_with_docker_socket": True,  # a reverse proxy answers from outside the host
                },
                "cache": {
                    "layer": "data",
                    "kind": "stateful",
                    "image": "redis:7.4.2-alpine",
                    "ports": [{"name": "redis", "port": 6379}],
                    "env": {"REDIS_ARGS": "--requirepass ${CACHE_PASSWORD}"},
                    "health": {"type": "command", "command": ["redis-cli", "ping"]},
                    "volumes": [{"name": "data", "path": "/data", "size": "2Gi"}],
                    "resources": {"cpus": 0.25, "memory": "256Mi"},
                },
                "migrate": {
                    "layer": "application",
                    "kind": "job",
                    "image": "busybox:1.36.1",
                    "command": ["sh", "-c", "echo migrated $HOSTNAME"],
                    "depends_on": ["cache"],
                },
                "web": {
                    "layer": "application",
                    "image": "ghcr.io/demo/web:1.2.3",
                    "env": {
                        "CACHE_URL": "redis://:${CACHE_PASSWORD}@cache:6379/0",
                        "PRICE": "$$5",
                        "PUBLIC_URL": "https://www.{domain}",
                    },
                    "secrets": [{"secret": "API_TOKEN", "file": "/run/secrets/api_token"}],
                    "ports": [{"name": "http", "port": 8000, "public": {"hostname": "www.{domain}"}}],
                    "health": {"type": "http", "port": 8000, "path": "/healthz", "probe": "wget"},
                    "depends_on": {"cache": "healthy", "migrate": "completed"},
                    "resources": {"cpus": 1, "memory": "1Gi", "reserve_memory": "512Mi"},
                    "scale": {"replicas": 3},
                },
            },
        }
    )


def dump(data: Any, **options: Any) -> str:
    """YAML text of ``data``, keys in their order, by libyaml's emitter (ten times PyYAML's pure-Python one:
    the tests write hundreds of catalogs)."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(data, Dumper=dumper, sort_keys=False, **options)


def write(directory: Path, data: dict[str, Any] | str, name: str = "catalog.yaml") -> Path:
    path = directory / name
    path.write_text(data if isinstance(data, str) else dump(data))
    return path


API_CATALOG = """\
version: 1
project:
  name: demo
  domain: demo.example.com
  tls: {{acme_email: ops@demo.example.com}}
services:
  api:
    layer: application
    image: ghcr.io/demo/api:1.0.0
    ports:
      - {{name: http, port: 8080}}
    health: {{type: http, port: 8080, path: {health}, probe: curl}}
    smoke:
"""


def api_catalog(*smoke: str, health: str = "/healthz") -> str:
    """The YAML text of a one-service catalog (api, ghcr.io/demo/api:1.0.0 on 8080, an http health check of
    ``health``) whose smoke tests are ``smoke``, each a YAML flow map on a line of its own: for the tests that
    look for the line a problem is reported on."""
    return API_CATALOG.format(health=health) + "".join(f"      - {entry}\n" for entry in smoke)
