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
# a scheme, then "//", then userinfo up to the last "@" before the host: what redact_urls_in looks for
URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s<>\"'`]+")


def redact_url(url: str) -> str:
    """``url`` with the userinfo and secret-looking query values replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _userinfo_only(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rpartition("@")[2]
    query = "&".join(_redact_param(param) for param in parts.query.split("&")) if parts.query else ""
    return SplitResult(parts.scheme, netloc, parts.path, query, parts.fragment).geturl()


def redact_urls_in(text: str) -> str:
    """Every URL inside ``text`` (an exception's message, a server's answer) passed through redact_url."""
    return URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)


def _redact_param(param: str) -> str:
    name, equals, value = param.partition("=")
    return f"{name}={MASK}" if equals and value and SECRET_PARAMS.match(name) else param


def _userinfo_only(url: str) -> str:
    """For text urlsplit refuses (a bad IPv6 literal): cut what lies between "//" and the last "@"."""
    return re.sub(r"//[^/?#]*@", f"//{MASK}@", url)
