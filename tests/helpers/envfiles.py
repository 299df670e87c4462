""".env variants: what Compose reads from each, and whether aipair may read it at all.

Each variant sets KEY. ``value`` is what the real Compose binary reads (checked by
tests/cli/test_env_file_compose.py); ``None`` means aipair refuses the file with an error naming the line,
because the value would depend on the deployer's environment or on rules aipair does not follow.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    name: str
    text: str
    value: str | None  # None: aipair refuses the file


JWT = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2ln-_x"

VARIANTS = [
    Variant("plain", "KEY=abc\n", "abc"),
    Variant("export prefix", "export KEY=abc\n", "abc"),
    Variant("export with tab and indent", "  export\tKEY=abc\n", "abc"),
    Variant("word starting with export", "exportKEY=abc\nKEY=xyz\n", "xyz"),
    Variant("single quotes", "KEY='abc'\n", "abc"),
    Variant("double quotes", 'KEY="abc"\n', "abc"),
    Variant("export and single quotes and comment", "export KEY='abc' # the key\n", "abc"),
    Variant("inline comment", "KEY=abc # rotated on 2024-01-01\n", "abc"),
    Variant("inline comment after spaces", "KEY=a b   # note\n", "a b"),
    Variant("hash without a space is data", "KEY=abc#def\n", "abc#def"),
    Variant("hash after a tab is data", "KEY=abc\t#def\n", "abc\t#def"),
    Variant("value starting with hash", "KEY=#abc\n", "#abc"),
    Variant("comment after single quotes", "KEY='abc'# note\n", "abc"),
    Variant("comment after double quotes", 'KEY="abc" # note\n', "abc"),
    Variant("hash inside single quotes", "KEY='a #b'\n", "a #b"),
    Variant("equals inside value", "KEY=a=b==\n", "a=b=="),
    Variant("equals inside quotes", "KEY='a=b'\n", "a=b"),
    Variant("trailing spaces", "KEY=abc   \n", "abc"),
    Variant("trailing tabs", "KEY=abc\t \t\n", "abc"),
    Variant("spaces around equals", "KEY = abc\n", "abc"),
    Variant("indented", "   KEY=abc\n", "abc"),
    Variant("spaces inside single quotes", "KEY='  abc  '\n", "  abc  "),
    Variant("dollar in single quotes", "KEY='a$b'\n", "a$b"),
    Variant("braces in single quotes", "KEY='a${B}c'\n", "a${B}c"),
    Variant("escaped dollar", "KEY=a$$b\n", "a$b"),
    Variant("escaped dollar in double quotes", 'KEY="a$$b"\n', "a$b"),
    Variant("dollar unquoted", "KEY=a$b\n", None),
    Variant("braces unquoted", "B=zz\nKEY=a${B}c\n", None),
    Variant("dollar in double quotes", 'KEY="a$b"\n', None),
    Variant("backslash in double quotes", 'KEY="a\\nb"\n', None),
    Variant("backslash unquoted is data", "KEY=a\\nb\n", "a\\nb"),
    Variant("backslash in single quotes is data", "KEY='a\\nb'\n", "a\\nb"),
    Variant("quote inside unquoted", "KEY=a\"b'c\n", "a\"b'c"),
    Variant("single quote inside double quotes", 'KEY="a\'b"\n', "a'b"),
    Variant("empty", "KEY=\n", ""),
    Variant("empty double quotes", 'KEY=""\n', ""),
    Variant("empty single quotes", "KEY=''\n", ""),
    Variant("CRLF", "A=1\r\nKEY=abc\r\nB=2\r\n", "abc"),
    Variant("CRLF quoted", "KEY='abc'\r\n", "abc"),
    Variant("CRLF and comment", "KEY=abc # c\r\n", "abc"),
    Variant("no final newline", "KEY=abc", "abc"),
    Variant("duplicate keys: the last wins", "KEY=abc\nKEY=def\n", "def"),
    Variant("duplicate keys: the last is empty", "KEY=abc\nKEY=\n", ""),
    Variant("comment lines and blank lines", "# KEY=no\n\n  # KEY=no\nKEY=abc\n\n", "abc"),
    Variant("yaml-style colon", "KEY: abc\n", "abc"),
    Variant("byte order mark", "\ufeffKEY=abc\n", "abc"),
    Variant("non-ASCII", "KEY=\u00e9t\u00e9\n", "\u00e9t\u00e9"),
    Variant("JWT", f"KEY={JWT}\n", JWT),
    Variant("text after the closing quote", "KEY='abc'x\n", None),
    Variant("unterminated single quote", "KEY='abc\n", None),
    Variant("unterminated double quote", 'KEY="abc\n', None),
    Variant("multi-line single quotes", "KEY='a\nb'\n", None),
    Variant("no equals sign: taken from the environment", "KEY\n", None),
    Variant("export without a value", "export KEY\n", None),
    Variant("carriage return inside the value", "KEY=ab\rcd\n", None),
    Variant("vertical tab inside the value", "KEY=a\x0bb\n", None),
    Variant("dotted key", "KEY.X=abc\nKEY=def\n", "def"),
]
