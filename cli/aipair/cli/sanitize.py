"""Text from outside (registries, the Kestra server, container logs, files) made safe to show.

A terminal obeys control characters: an ESC sequence in a log line can retitle the window, clear
the screen, forge a hyperlink (OSC 8) or, with ``\\r`` and ``\\b``, overwrite what was printed
before it. ``terminal_safe`` turns every such character into a visible escape (``\\x1b``), so the
text still reads and nothing is executed. URL credentials are hidden by
``aipair.redact`` (one rule for engines and output).
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, the C1 controls (U+0080..U+009F; U+009B is a one-character
# CSI on some terminals) and the bidirectional overrides and isolates that reorder what is shown.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """``text`` with every character a terminal would act on written out as an escape; ``\\r\\n`` is a newline."""
    if not _UNSAFE.search(text):
        return text
    return _UNSAFE.sub(_visible, text.replace("\r\n", "\n"))
