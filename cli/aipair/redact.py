"""Credentials out of URLs before a URL reaches a message, a result (--json) or a log line.

A URL may carry a secret in its userinfo (``https://user:token@host/``) or in a query parameter
whose name says so (``?access_token=…``, ``X-Amz-Signature=…``). Both are replaced by ``***``; the
rest of the URL stays, so the user still sees which server and path it was.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

MASK = "***"
# query parameters whose values are credentials (OAuth, presigned S3/GCS URLs, common API keys)
SECRET_PARAMS = re.compile(
    r"(?i)^(access_token|refresh_token|id_token|token|auth|authorization|password|passwd|pwd|secret|"
    r"client_secret|api[_-]?key|apikey|key|sig|signature|x-amz-signature|x-amz-credential|"
    r"x-amz-security-token|x-goog-signature|x-goog-credential)$"
)
# a URL inside a longer text, up to the first character a URL cannot hold
URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s<>\"'`]+")
# userinfo: after the scheme's "//", everything up to the last "@" before the path; in one URL even
# characters a URL may not hold (a hand-written password with a space), in a text only URL characters
USERINFO_IN_URL = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")
USERINFO_IN_TEXT = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s<>\"'`]*@")
# a userinfo that only names a secret (``app:${APP_DB_PASSWORD}``, as the catalog writes it) holds none
PLACEHOLDER_USERINFO = re.compile(
    r"^(?:[A-Za-z0-9._~-]*:)?(?:\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$\([A-Za-z_][A-Za-z0-9_]*\))$"
)


def redact_url(url: str) -> str:
    """``url`` with the userinfo and secret-looking query values replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _userinfo_only(url)
    if USERINFO_IN_URL.match(url):  # masked before urlsplit, which misreads characters a URL may not hold
        url = USERINFO_IN_URL.sub(_mask_userinfo, url, count=1)
        parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc and not PLACEHOLDER_USERINFO.match(netloc.rpartition("@")[0]):
        netloc = MASK + "@" + netloc.rpartition("@")[2]
    query = "&".join(_redact_param(param) for param in parts.query.split("&")) if parts.query else ""
    if netloc == parts.netloc and query == parts.query:
        return url  # nothing to hide: keep the URL as written (geturl would turn unix:///x into unix:/x)
    return SplitResult(parts.scheme, netloc, parts.path, query, parts.fragment).geturl()


def redact_urls_in(text: str) -> str:
    """Every URL inside ``text`` (an exception's message, a server's answer) passed through redact_url."""
    masked = USERINFO_IN_TEXT.sub(_mask_userinfo, text)
    return URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), masked)


def _mask_userinfo(match: re.Match[str]) -> str:
    userinfo = match.string[match.end(1) : match.end(0) - 1]
    return match.group(0) if PLACEHOLDER_USERINFO.match(userinfo) else f"{match.group(1)}{MASK}@"


def _redact_param(param: str) -> str:
    name, equals, value = param.partition("=")
    return f"{name}={MASK}" if equals and value and SECRET_PARAMS.match(name) else param


def _userinfo_only(url: str) -> str:
    """For text urlsplit refuses (a bad IPv6 literal): cut what lies between "//" and the last "@"."""
    return re.sub(r"//[^/?#]*@", f"//{MASK}@", url)
