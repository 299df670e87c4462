"""Catalog text that Compose, Kubernetes or a shell would expand, and where to put it."""

from __future__ import annotations

import re
from typing import Any

from .catalogs import minimal

# Each must reach the container literally: variables of the deployer's shell, defaults, escapes, a dangling `$`.
PAYLOADS = ["$HOME", "${AWS_SECRET_ACCESS_KEY}", "$$", "${X:-default}", "tail$", "$${HOME}", "$(id)", "$"]


def hostile(payload: str, probe: str = "wget") -> dict[str, Any]:
    """The minimal catalog with ``payload`` in every free-text field that reaches the Compose file."""
    data = minimal()
    data["project"]["tls"]["acme_email"] = f"ops{payload}@demo.example.com"
    web = data["services"]["web"]
    web["health"] = {"type": "http", "port": 8000, "path": f"/h{payload}", "probe": probe}
    web["smoke"] = [{"name": "get", "http": f"/s{payload}"}]
    web["entrypoint"] = ["/entry", f"e{payload}"]
    web["command"] = ["serve", f"c{payload}"]
    web["env"]["LITERAL"] = f"v{payload}".replace("$", "$$")  # env syntax: `$$` is a literal `$`
    web["files"] = [{"path": "/etc/web.conf", "content": f"key={payload}\n"}]
    data["services"]["cache"]["health"] = {"type": "command", "command": f"redis-cli ping {payload}"}
    data["services"]["migrate"]["command"] = ["sh", "-c", f"echo {payload}"]
    return data


def compose_literal(text: str) -> str:
    """What Compose makes of ``text`` (as aipair writes it, or as `config` prints it back): only `$$` may appear."""
    assert re.fullmatch(r"(?:[^$]|\$\$)*", text), f"an unescaped `$` reaches Compose: {text!r}"
    return text.replace("$$", "$")


def assert_payload_literal(services: dict[str, Any], payload: str) -> None:
    """Every field ``hostile(payload)`` put the payload in reads back as the catalog's text, once Compose's
    ``$$`` is undone: the rendered services, or what the real binary's ``config`` made of them."""
    web = services["web"]
    assert f"--certificatesresolvers.letsencrypt.acme.email=ops{payload}@demo.example.com" in [
        compose_literal(part) for part in services["proxy"]["command"]
    ]
    assert [compose_literal(part) for part in web["entrypoint"]] == ["/entry", f"e{payload}"]
    assert [compose_literal(part) for part in web["command"]] == ["serve", f"c{payload}"]
    assert compose_literal(web["environment"]["LITERAL"]) == f"v{payload}"
    assert compose_literal(web["healthcheck"]["test"][-1]) == f"http://127.0.0.1:8000/h{payload}"
    assert [compose_literal(part) for part in services["cache"]["healthcheck"]["test"]] == [
        "CMD-SHELL",
        f"redis-cli ping {payload}",
    ]
    assert compose_literal(services["migrate"]["command"][-1]) == f"echo {payload}"
