"""Pure parts of the network boundary: URL redaction, the token-realm rule, origins, and the bounds themselves."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aipair.engines.limits import KESTRA, REGISTRY, Bounds
from aipair.engines.registry import origin, realm_problem
from aipair.redact import redact_url, redact_urls_in


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:tok@host:8080/a?x=1#f", "https://***@host:8080/a?x=1#f"),
        ("https://tok@host/", "https://***@host/"),
        ("http://a:b@c@host/x", "http://***@host/x"),
        ("https://host/path?access_token=abc&n=1", "https://host/path?access_token=***&n=1"),
        (
            "https://s3/bucket?X-Amz-Signature=ff&X-Amz-Credential=k",
            "https://s3/bucket?X-Amz-Signature=***&X-Amz-Credential=***",
        ),
        ("https://host/plain", "https://host/plain"),
        ("git+https://u:p@github.com/o/r.git", "git+https://***@github.com/o/r.git"),
        ("http://u:p@[::1/x", "http://***@[::1/x"),
        ("unix:///var/run/docker.sock", "unix:///var/run/docker.sock"),  # nothing to hide: kept as written
        ("postgres://app:${APP_DB_PASSWORD}@db:5432/app", "postgres://app:${APP_DB_PASSWORD}@db:5432/app"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_urls_in_text_keeps_the_text_around() -> None:
    text = "cannot reach https://ci:s3cret@reg.example.com/v2/ (ConnectError: http://x:y@proxy:3128 refused)"
    assert redact_urls_in(text) == (
        "cannot reach https://***@reg.example.com/v2/ (ConnectError: http://***@proxy:3128 refused)"
    )


anything = st.text(alphabet=st.characters(exclude_characters="@/?#\\"), min_size=1, max_size=30)
# inside a longer text a URL ends at whitespace or a quote: credentials there are URL characters
url_text = st.text(alphabet=st.characters(exclude_categories=["Z", "C"], exclude_characters="@/?#\\<>\"'`"), min_size=1)


@given(user=anything, password=anything, host=st.sampled_from(["h.example", "127.0.0.1:5000", "[::1]:8080"]))
def test_no_userinfo_survives_redaction_of_a_url(user: str, password: str, host: str) -> None:
    assert redact_url(f"https://{user}:{password}@{host}/api?x=1") == f"https://***@{host}/api?x=1"


@given(user=url_text, password=url_text, host=st.sampled_from(["h.example", "127.0.0.1:5000", "[::1]:8080"]))
def test_no_userinfo_survives_redaction_in_a_text(user: str, password: str, host: str) -> None:
    text = f"error at https://{user}:{password}@{host}/api?x=1: refused"
    assert redact_urls_in(text) == f"error at https://***@{host}/api?x=1: refused"


def test_an_email_after_a_url_in_a_text_is_not_taken_for_userinfo() -> None:
    text = "cannot reach http://localhost:8080 (ask ops@example.com)"
    assert redact_urls_in(text) == text


@pytest.mark.parametrize(
    ("registry", "realm", "allowed"),
    [
        ("https://ghcr.io", "https://ghcr.io/token", True),
        ("https://registry-1.docker.io", "https://auth.docker.io/token", True),  # as Docker Hub does
        ("https://ghcr.io", "http://ghcr.io/token", False),  # a downgrade
        ("https://ghcr.io", "http://evil.example/token", False),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5001/token", True),  # a local registry's own auth server
        ("http://127.0.0.1:5000", "http://localhost:5001/token", False),
        ("http://127.0.0.1:5000", "http://evil.example/token", False),
        ("http://127.0.0.1:5000", "ftp://127.0.0.1/token", False),
        ("http://127.0.0.1:5000", "file:///etc/passwd", False),
    ],
)
def test_realm_rule(registry: str, realm: str, allowed: bool) -> None:
    assert (realm_problem(registry, httpx.URL(realm)) is None) is allowed


def test_origins_include_scheme_and_default_ports() -> None:
    assert origin("https://r.example/v2/") == origin("https://r.example:443/other")
    assert origin("https://r.example/") != origin("http://r.example/")
    assert origin("http://r.example:5000/") != origin("http://r.example:5001/")
    assert origin("http://r.example/") != origin("http://r.example.evil/")


@pytest.mark.parametrize("bounds", [REGISTRY, KESTRA], ids=["registry", "kestra"])
def test_every_bound_is_finite_and_the_deadline_outlasts_a_read(bounds: Bounds) -> None:
    for field in dataclasses.fields(bounds):
        value = getattr(bounds, field.name)
        assert value >= 0 and value < 10**9, field.name
    assert 0 < bounds.connect <= bounds.deadline and 0 < bounds.read < bounds.deadline
    assert bounds.max_bytes > 0 and bounds.max_page_size > 0


def test_registry_bounds_hold_the_largest_honest_repository() -> None:
    """library/node has about 25k tags: it must fit in the pages and tags the bounds allow."""
    assert REGISTRY.max_tags >= 100_000
    assert REGISTRY.max_pages * REGISTRY.max_page_size >= REGISTRY.max_tags
