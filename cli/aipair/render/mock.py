"""The mock profile: lightweight stand-ins that keep each service's name, ports and health endpoint.

Application developers run the whole topology offline against these (the architecture's
local-development principle). One image serves every mocked service: static busybox plus the
`serve` script below, made locally by ``engines.mockimage`` (no registry). Its tag is derived
from the script, so the renderer names it without touching the engine.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..catalog.model import Service
from ..catalog.probes import CommandHealth, HttpHealth, TcpHealth

SERVE_SCRIPT = """\
#!/bin/sh
# aipair mock: `serve job` exits 0; `serve PORTS PATH...` answers HTTP 200 on every port for each path.
if [ "$1" = job ]; then echo "aipair mock job: done"; exit 0; fi
ports="$1"; shift
mkdir -p /www && echo ok > /www/index.html
for path in "$@"; do
  path="${path%%\\?*}"
  case "$path" in /|"") ;; *) mkdir -p "/www$(dirname "$path")" && echo ok > "/www$path" ;; esac
done
for port in $(echo "$ports" | tr , ' '); do httpd -p "$port" -h /www || exit 1; done
echo "aipair mock: serving ${ports:-no ports}"
exec tail -f /dev/null
"""

MOCK_REPOSITORY = "aipair/mock"
MOCK_IMAGE = f"{MOCK_REPOSITORY}:{hashlib.sha256(SERVE_SCRIPT.encode()).hexdigest()[:12]}"


def mock_overrides(svc: Service) -> dict[str, Any]:
    """Compose keys that turn ``svc`` into its stand-in (image, command, a probe busybox can run)."""
    out: dict[str, Any] = {
        "image": MOCK_IMAGE,
        "pull_policy": "never",
        "init": True,
        "entrypoint": ["/bin/sh", "/mock/serve"],
    }
    if svc.kind == "job":
        out["command"] = ["job"]
        return out
    paths = ["/"]
    health = svc.health
    if isinstance(health, HttpHealth):
        paths.append(health.path)
    paths += [smoke.http for smoke in svc.smoke if smoke.http is not None]
    ports = ",".join(str(p.port) for p in svc.ports if p.protocol == "tcp")
    out["command"] = [ports, *dict.fromkeys(paths)]
    if isinstance(health, HttpHealth):
        url = f"http://127.0.0.1:{health.port}{health.path}"
    elif isinstance(health, TcpHealth):
        url = f"http://127.0.0.1:{health.port}/"
    elif isinstance(health, CommandHealth) and ports:
        url = f"http://127.0.0.1:{ports.split(',')[0]}/"
    else:
        url = None
    test = ["CMD", "wget", "-q", "-O", "/dev/null", url] if url else ["CMD", "true"]
    out["healthcheck"] = {"test": test, "interval": "1s", "timeout": "2s", "retries": 30, "start_period": "1s"}
    return out
