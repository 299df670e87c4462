"""compose/.env: secrets generated once with a cryptographic generator, never overwritten or shown.

The only module that creates secret values. Existing values are kept byte for byte; missing
keys are appended. The file is read with Compose's rules, changed under its lock, written atomically
with mode 0600, and is git-ignored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import string
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..catalog.model import Catalog
from ..catalog.secrets import GenerateSecret, JwtSecret
from ..errors import UsageError
from .files import atomic_write, remove_stale_temporaries
from .locks import locked

ALPHABETS = {
    "alnum": string.ascii_letters + string.digits,
    "hex": "0123456789abcdef",
    "base64url": string.ascii_letters + string.digits + "-_",
}


class EnvFileError(UsageError):
    """A line of compose/.env whose value aipair cannot know for sure; names the file and line."""


@dataclass
class EnvResult:
    """What ensure_env did, by secret name; it never carries a value (results are printed and sent as JSON)."""

    path: Path
    generated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    unset_supplied: list[str] = field(default_factory=list)  # the operator still has to fill these in
    created: bool = False


# compose/.env is read by Compose (compose-go's dotenv); aipair must read the same value or it rotates a
# secret Compose still uses, or signs a JWT with a different key. The rules below are Compose's, checked
# against the real binary in tests/cli/test_env_file_compose.py. python-dotenv is not used: it reads
# `KEY: v`, `a$$b`, `'v'x`, a tab before `#` and a lone CR differently, and expands `${VAR}` from the
# environment of aipair instead of the one Compose will have. Where Compose's value depends on the
# deployer's environment (`$VAR`, a line without `=`) or on escapes (`\` in double quotes), or the value
# spans lines, aipair refuses with the file and line instead of guessing.
_ASSIGNMENT = re.compile(r"[ \t]*(?:export[ \t]+)?(?P<key>[^=:\s]+)[ \t]*[=:](?P<rest>.*)", re.DOTALL)
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_AFTER_QUOTE = re.compile(r"[ \t]*(?:#.*)?", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Written unquoted: Compose reads these characters back unchanged (every generated secret and JWT fits).
_PLAIN = re.compile(r"[A-Za-z0-9_.,:/+=@%-]*")


@dataclass
class EnvFile:
    """A parsed .env: the text as read, the value of each key (the last assignment wins, as in Compose)
    and the line indexes (0-based) that assign each key."""

    text: str = ""
    values: dict[str, str] = field(default_factory=dict)
    lines: dict[str, list[int]] = field(default_factory=dict)


def parse_env(text: str, *, source: str) -> EnvFile:
    """The assignments of a .env text as Compose reads them; EnvFileError for a line read ambiguously."""
    parsed = EnvFile(text=text)
    for index, raw in enumerate(text.split("\n")):
        line = raw.removesuffix("\r")
        if not line.strip(" \t") or line.lstrip(" \t").startswith("#"):
            continue
        where = f"{source}:{index + 1}"
        match = _ASSIGNMENT.fullmatch(line)
        if match is None or not _KEY.fullmatch(match["key"]):
            raise EnvFileError(f"{where}: {_not_an_assignment(line)}")
        key = match["key"]
        value = _value(key, match["rest"], where)
        parsed.values[key] = value
        parsed.lines.setdefault(key, []).append(index)
    return parsed


def _not_an_assignment(line: str) -> str:
    bare = re.fullmatch(r"[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*", line)
    if bare:
        name = bare[1]
        return (
            f"{name} has no `=`, so Compose would take its value from the deployer's shell; "
            f"write {name}=value, or {name}= to leave it empty"
        )
    return "expected KEY=value, a comment starting with `#`, or a blank line"


def _value(key: str, rest: str, where: str) -> str:
    if _CONTROL.search(rest):
        raise EnvFileError(f"{where}: the value of {key} contains a control character; remove it")
    rest = rest.lstrip(" \t")
    quote = rest[:1]
    if quote in ("'", '"'):
        end = rest.find(quote, 1)
        if end < 0:
            raise EnvFileError(
                f"{where}: the value of {key} has no closing {quote} on its line (aipair does not read values "
                "spanning lines); close the quote"
            )
        value, tail = rest[1:end], rest[end + 1 :]
        if not _AFTER_QUOTE.fullmatch(tail):
            raise EnvFileError(
                f"{where}: text after the closing {quote} of {key} (Compose ignores it); "
                "remove it or start it with ` #`"
            )
        if quote == "'":
            return value  # single quotes: every character as written, `$` included
        if "\\" in value:
            raise EnvFileError(
                f"{where}: the value of {key} has a backslash inside double quotes, an escape Compose "
                f"decodes; put the value in single quotes ({key}='...')"
            )
    else:
        value = rest.split(" #", 1)[0].rstrip()  # an unquoted value ends at ` #`; trailing blanks go
    return _unescape_dollars(key, value, where)


def _unescape_dollars(key: str, value: str, where: str) -> str:
    """Compose reads `$$` as `$` and `$NAME`/`${NAME}` as a variable of the deployer's environment."""
    parts = value.split("$$")
    if any("$" in part for part in parts):
        raise EnvFileError(
            f"{where}: the value of {key} contains `$`, which Compose replaces with a variable from the "
            f"deployer's environment; put the value in single quotes ({key}='...') or write `$$` for a `$`"
        )
    return "$".join(parts)


def format_assignment(key: str, value: str) -> str:
    """A ``KEY=value`` line that Compose (and parse_env) reads back as exactly ``value``."""
    if _PLAIN.fullmatch(value):
        return f"{key}={value}"
    if _CONTROL.search(value):
        raise ValueError(f"{key}: a value with a control character cannot be written to a .env line")
    if "'" not in value:
        return f"{key}='{value}'"
    if not set(value) & {'"', "$", "\\"}:
        return f'{key}="{value}"'
    raise ValueError(f"{key}: a value with both ' and one of \" $ \\ cannot be written to a .env line")


def load_env(path: Path) -> EnvFile:
    """The parsed file, empty when it does not exist."""
    try:
        text = path.read_bytes().decode("utf-8-sig")  # Compose skips a byte order mark too
    except FileNotFoundError:
        return EnvFile()
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise EnvFileError(f"{path}:{line}: not UTF-8 text; save the file as UTF-8") from None
    return parse_env(text, source=str(path))


def read_env(path: Path) -> dict[str, str]:
    """KEY → value of a .env file as Compose reads it (empty when the file does not exist)."""
    return load_env(path).values


HEADER = "# Secrets for the phase-1 Compose project. Generated by aipair; keep this file private."


def ensure_env(catalog: Catalog, phase: str, path: Path) -> EnvResult:
    """Make sure ``path`` holds a value for every secret the phase reads.

    A key with a value is never touched. A generated key that is missing is appended; one that
    is present but empty (a copied .env.example) is filled in on its own line(s). A JWT is signed again
    when the key signing it is generated now (the old one would be invalid). The whole read-change-write
    holds the file's lock, so concurrent first runs agree on one set of secrets.
    """
    with locked(path):
        remove_stale_temporaries(path)
        return _ensure_env(catalog, phase, path)


def _ensure_env(catalog: Catalog, phase: str, path: Path) -> EnvResult:
    result = EnvResult(path=path, created=not path.exists())
    env = load_env(path)
    existing = env.values
    values = dict(existing)
    fill: dict[str, str] = {}
    additions: list[str] = []
    made: set[str] = set()
    # Plain secrets first: JWTs are signed with them.
    for name in signing_order(catalog, catalog.secrets_for(phase)):
        secret = catalog.secrets[name]
        resign = secret.jwt is not None and secret.jwt.signed_with in made
        if existing.get(name) and not resign:
            result.kept.append(name)
            continue
        if secret.supplied:
            if name not in existing:
                additions.append(f"# {secret.description} — supplied: set the value yourself\n{name}=")
            result.unset_supplied.append(name)
            continue
        if secret.generate is not None:
            values[name] = generate(secret.generate)
        elif secret.jwt is not None:
            if not values.get(secret.jwt.signed_with):
                result.unset_supplied.append(name)  # cannot sign until its key has a value
                continue
            values[name] = sign_jwt(secret.jwt, values[secret.jwt.signed_with])
        made.add(name)
        result.generated.append(name)
        if name in existing:
            fill[name] = values[name]
        else:
            comment = f"# {secret.description}\n" if secret.description else ""
            additions.append(f"{comment}{format_assignment(name, values[name])}")
    if additions or fill or result.created:
        lines = env.text.split("\n") if env.text else [HEADER, ""]
        for name, value in fill.items():
            for index in env.lines[name]:
                ending = "\r" if lines[index].endswith("\r") else ""
                lines[index] = format_assignment(name, value) + ending
        text = "\n".join(lines)
        if additions and not text.endswith("\n"):
            text += "\n"
        atomic_write(path, text + "".join(line + "\n" for line in additions), mode=0o600)
    elif path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return result


def signing_order(catalog: Catalog, names: list[str]) -> list[str]:
    """Plain secrets before the JWTs signed with them, otherwise in the given order."""
    return sorted(names, key=lambda name: catalog.secrets[name].jwt is not None)


CLASSES = {"lower": string.ascii_lowercase, "upper": string.ascii_uppercase, "digit": string.digits}


def generate(spec: GenerateSecret) -> str:
    """``length`` characters from the alphabet, each one from the OS's cryptographic generator; one character
    of every required class is put at a random place, so the consumer's rules hold by construction."""
    alphabet = ALPHABETS[spec.alphabet]
    chars = [secrets.choice(alphabet) for _ in range(spec.length - len(spec.require))]
    for kind in spec.require:
        pool = "".join(c for c in CLASSES[kind] if c in alphabet)
        chars.insert(secrets.randbelow(len(chars) + 1), secrets.choice(pool))
    return "".join(chars)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_jwt(spec: JwtSecret, key: str, *, now: int | None = None) -> str:
    """An HS256 JWT (RFC 7519) with the spec's claims; three stdlib calls, so no JWT library."""
    issued = int(time.time()) if now is None else now
    claims = {**spec.claims, "iat": issued, "exp": issued + spec.expires_in_days * 86400}
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    signature = hmac.new(key.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"
