"""A token server for the real registry's `auth: token` mode, and a registry started behind it."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .registry import running_registry


class TokenServer:
    """A token server for the real registry's `auth: token` mode (distribution's documented flow):
    anonymous pull tokens, as Docker Hub grants them; a 401 for wrong basic credentials."""

    def __init__(self, base: Path) -> None:
        import datetime as dt
        import http.server
        import threading
        from urllib.parse import parse_qs, urlparse

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
        from cryptography.x509.oid import NameOID

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aipair-test-issuer")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256())
        )
        self.bundle = base / "token-ca.pem"
        self.bundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        self.issued = 0

        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                query = parse_qs(urlparse(self.path).query)
                auth = self.headers.get("Authorization", "")
                if auth and auth != "Basic " + base64.b64encode(b"ci:s3cret").decode():
                    self.send_response(401)
                    self.end_headers()
                    return
                repository = query["scope"][0].split(":")[1]
                issued_at = int(time.time())
                claims = {
                    "iss": "aipair-test-issuer",
                    "sub": "ci" if auth else "",
                    "aud": query["service"][0],
                    "exp": issued_at + 300,
                    "nbf": issued_at - 10,
                    "iat": issued_at,
                    "jti": str(issued_at),
                    "access": [{"type": "repository", "name": repository, "actions": ["pull"]}],
                }
                header = {"typ": "JWT", "alg": "RS256", "x5c": [x5c]}
                signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
                signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
                body = json.dumps({"token": f"{signing_input}.{b64(signature)}", "expires_in": 300}).encode()
                server.issued += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self.http.server_address[1]}/token"
        threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()


@contextmanager
def token_registry(base: Path) -> Iterator[tuple[str, TokenServer]]:
    """The registry whose storage is ``base/data`` (fill it first, without auth), restarted behind a TokenServer:
    yields its address and the token server."""
    tokens = TokenServer(base)
    with running_registry(
        base,
        {
            "token": {
                "realm": tokens.realm,
                "service": "aipair-test-registry",
                "issuer": "aipair-test-issuer",
                "rootcertbundle": str(tokens.bundle),
            }
        },
    ) as address:
        try:
            yield address, tokens
        finally:
            tokens.http.shutdown()
