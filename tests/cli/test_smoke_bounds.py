"""`upgrade validate`'s HTTP smoke test against a hostile candidate: bounded in bytes and time, no redirect.

The candidate is a real HTTP server on 127.0.0.1 (tests/helpers/hostile_http.py); the Docker client is a
double that reports that address as the candidate container's (no engine in these tests).
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from types import SimpleNamespace

import pytest

from aipair.catalog.model import Port
from aipair.catalog.probes import SmokeTest
from aipair.engines import limits
from aipair.ops.upgrade.smoke import run_smoke

from ..helpers.hostile_http import HostileServer, Reply, Seen

QUICK = dataclasses.replace(limits.SMOKE, read=1.0, deadline=1.5, max_bytes=64 * limits.KIB)


def _run(server: HostileServer, monkeypatch: pytest.MonkeyPatch, **test: object) -> tuple[bool, str, float]:
    monkeypatch.setattr("aipair.ops.upgrade.smoke.SMOKE", QUICK)
    container = SimpleNamespace(attrs={"NetworkSettings": {"Networks": {"n": {"IPAddress": "127.0.0.1"}}}})
    client = SimpleNamespace(containers=SimpleNamespace(get=lambda _name: container))
    started = time.monotonic()
    smoke = SmokeTest(name="s", http="/health", port=server.port, **test)  # type: ignore[arg-type]
    outcome = run_smoke(client, "c", smoke, [Port(port=server.port)], environment={})
    return outcome.ok, outcome.detail, time.monotonic() - started


def test_an_endless_body_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    def candidate(reply: Reply, seen: Seen) -> None:
        reply.stream(200, itertools.repeat(b"ok" * 4096))

    with HostileServer(candidate) as server:
        ok, detail, seconds = _run(server, monkeypatch, contains="ok")
    assert not ok and "BoundExceeded" in detail and "KiB" in detail
    assert seconds < 30


def test_a_trickling_body_ends_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    def candidate(reply: Reply, seen: Seen) -> None:
        reply.stream(200, itertools.repeat(b"o"), delay=0.2)  # a byte every 0.2 s: no read timeout ever fires

    with HostileServer(candidate) as server:
        ok, detail, seconds = _run(server, monkeypatch, contains="never")
    assert not ok and "Timeout" in detail
    assert seconds < 30, "the deadline (1.5 s here) ends it, not the body"


def test_a_redirect_elsewhere_is_not_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    with HostileServer(lambda reply, seen: reply.json(200, "elsewhere")) as other:

        def candidate(reply: Reply, seen: Seen) -> None:
            reply.json(302, {}, Location=f"{other.url}/health")

        with HostileServer(candidate) as server:
            ok, detail, _ = _run(server, monkeypatch)
        assert not ok and "302" in detail
        assert other.seen == [], "the smoke request left the candidate"


def test_a_good_answer_still_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    with HostileServer(lambda reply, seen: reply.json(200, {"status": "ok"})) as server:
        ok, detail, _ = _run(server, monkeypatch, contains="ok")
    assert ok, detail
