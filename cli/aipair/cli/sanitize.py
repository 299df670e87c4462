"""Text from outside (registries, the Kestra server, container logs, files) made safe to show.

A terminal obeys control characters: an ESC sequence in a log line can retitle the window, clear
the screen, forge a hyperlink (OSC 8) or, with ``\\r`` and ``\\b``, overwrite what was printed
before it. ``terminal_safe`` turns every such character into a visible escape (``\\x1b``), so the
text still reads and nothing is executed. ``redact_userinfo`` hides the credentials of a URL
(``https://user:token@host``) in a message before it is printed or put into ``--json``.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, the C1 controls (U+0080..U+009F; U+009B is a one-character
# CSI on some terminals) and the bidirectional overrides and isolates that reorder what is shown.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

# scheme://userinfo@ : the userinfo has no '/', whitespace or '@' of its own.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#@\s]+)@")
# A placeholder such as ${DB_PASSWORD} or $(AIPAIR_SECRET_X) names a secret; it is not one.
_PLACEHOLDER = re.compile(r"^(\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$\([A-Za-z_][A-Za-z0-9_]*\))$")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """``text`` with every character a terminal would act on written out as an escape; ``\\r\\n`` is a newline."""
    if not _UNSAFE.search(text):
        return text
    return _UNSAFE.sub(_visible, text.replace("\r\n", "\n"))


def _hide(match: re.Match[str]) -> str:
    user, colon, secret = match.group("userinfo").partition(":")
    if colon:
        shown = secret if _PLACEHOLDER.match(secret) else "***"
        return f"{match.group('scheme')}{user}:{shown}@"
    shown = user if _PLACEHOLDER.match(user) else "***"
    return f"{match.group('scheme')}{shown}@"


def redact_userinfo(text: str) -> str:
    """``text`` with the password (or a lone token) of every ``scheme://user:password@`` URL replaced by ``***``."""
    return _USERINFO.sub(_hide, text)
