"""In production, tokens are signed by the académie's identity provider and checked against its
published keys (JWKS), fetched over HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from events.values import Role
from infra.auth import InvalidToken, TokenService
from infra.settings import AuthSettings

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    public = json.loads(RSAAlgorithm.to_jwk(KEY.public_key()))
    body = json.dumps({"keys": [{**public, "kid": "idp-1", "use": "sig", "alg": "RS256"}]})

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/jwks.json"
    server.shutdown()


def idp_token(key: rsa.RSAPrivateKey, kid: str = "idp-1", **claims: object) -> str:
    now = int(time.time())
    payload = {
        "sub": "agent-42", "role": "directeur", "scope": "0340001S", "iat": now,
        "exp": now + 600, "iss": "numecole", "aud": "numecole", **claims,
    }  # fmt: skip
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


def service(jwks_url: str) -> TokenService:
    return TokenService(AuthSettings(jwks_url=jwks_url, algorithms=("RS256", "ES256")))


def test_a_token_of_the_identity_provider_is_accepted(jwks_url: str) -> None:
    principal = service(jwks_url).verify(idp_token(KEY))
    assert (principal.user_id, principal.role, principal.scope) == (
        "agent-42",
        Role.DIRECTEUR,
        "0340001S",
    )


def test_a_token_signed_with_another_key_is_refused(jwks_url: str) -> None:
    with pytest.raises(InvalidToken):
        service(jwks_url).verify(idp_token(OTHER))


def test_a_shared_secret_token_is_refused_in_production(jwks_url: str) -> None:
    # The HS256 development tokens must not pass where keys come from the identity provider.
    hs = jwt.encode(
        {"sub": "x", "role": "auditeur", "scope": "*", "exp": int(time.time()) + 60,
         "iss": "numecole", "aud": "numecole"},
        "a" * 32,
        algorithm="HS256",
        headers={"kid": "idp-1"},
    )  # fmt: skip
    with pytest.raises(InvalidToken):
        service(jwks_url).verify(hs)


def test_development_tokens_cannot_be_issued_in_production(jwks_url: str) -> None:
    with pytest.raises(RuntimeError):
        service(jwks_url).issue("x", Role.AUDITEUR, "*")
