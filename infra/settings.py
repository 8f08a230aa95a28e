"""Settings, read once from the environment. One object per concern."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse


@dataclass(frozen=True)
class DatabaseSettings:
    url: str

    @classmethod
    def from_env(cls) -> DatabaseSettings:
        url = os.environ.get("DATABASE_URL")
        if not url:
            raise RuntimeError("DATABASE_URL is not set (numecole up sets it for its children)")
        return cls(url=url)

    def eventsourcing_env(self, schema: str, pool_size: int = 8) -> dict[str, str]:
        """The environment the eventsourcing library reads its PostgreSQL settings from."""
        parsed = urlparse(self.url)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            # The library's recorder, creating the record's index by school with its table.
            "APPLICATION_RECORDER_TOPIC": "infra.event_store:ContractRecorder",
            "POSTGRES_DBNAME": unquote(parsed.path.lstrip("/")) or "postgres",
            "POSTGRES_HOST": parsed.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parsed.port or 5432),
            "POSTGRES_USER": unquote(parsed.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parsed.password or ""),
            "POSTGRES_SCHEMA": schema,
            "POSTGRES_POOL_SIZE": str(pool_size),
            "POSTGRES_MAX_OVERFLOW": str(pool_size),
            "POSTGRES_CONNECT_TIMEOUT": "10",
            "POSTGRES_LOCK_TIMEOUT": "5",
        }


@dataclass(frozen=True)
class NatsSettings:
    url: str  # one server, or several separated by commas (a cluster)
    subject_root: str = "numecole"
    stream: str = "NUMECOLE"
    replicas: int = 1  # 3 on a production cluster

    @classmethod
    def from_env(cls) -> NatsSettings:
        url = os.environ.get("NATS_URL")
        if not url:
            raise RuntimeError("NATS_URL is not set (numecole up sets it for its children)")
        root = os.environ.get("NUMECOLE_SUBJECT_ROOT", "numecole")
        return cls(
            url=url,
            subject_root=root,
            stream=root.upper().replace("-", "_"),
            replicas=int(os.environ.get("NUMECOLE_STREAM_REPLICAS", "1")),
        )

    @property
    def servers(self) -> list[str]:
        return [u.strip() for u in self.url.split(",") if u.strip()]


@dataclass(frozen=True)
class AuthSettings:
    """Tokens are HS256 with a local key in development, or verified against the académie's
    identity provider (JWKS) in production."""

    dev_key: str | None = None
    jwks_url: str | None = None
    issuer: str = "numecole"
    audience: str = "numecole"
    algorithms: tuple[str, ...] = field(default=("HS256",))

    @classmethod
    def from_env(cls) -> AuthSettings:
        jwks = os.environ.get("NUMECOLE_JWKS_URL") or None
        key = os.environ.get("NUMECOLE_DEV_KEY") or None
        if jwks is None and key is None:
            raise RuntimeError(
                "set NUMECOLE_JWKS_URL (production) or NUMECOLE_DEV_KEY (development)"
            )
        return cls(
            dev_key=key,
            jwks_url=jwks,
            issuer=os.environ.get("NUMECOLE_TOKEN_ISSUER", "numecole"),
            audience=os.environ.get("NUMECOLE_TOKEN_AUDIENCE", "numecole"),
            algorithms=("RS256", "ES256") if jwks else ("HS256",),
        )


def data_dir() -> Path:
    return Path(os.environ.get("NUMECOLE_DATA_DIR", ".numecole")).resolve()
