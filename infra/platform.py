"""Where the platform's servers are: configured URLs, or embedded ones in the data directory."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from infra.embedded import EmbeddedNats, EmbeddedPostgres
from infra.settings import data_dir

DATABASE_NAME = "numecole"


@dataclass
class Servers:
    database_url: str
    nats_url: str
    dev_key: str
    embedded: list[EmbeddedPostgres | EmbeddedNats] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.database_url,
            "NATS_URL": self.nats_url,
            "NUMECOLE_DEV_KEY": self.dev_key,
        }

    def stop(self) -> None:
        for server in reversed(self.embedded):
            server.stop()


def ensure_database(server_url: str, name: str) -> str:
    """Create database `name` on the server if missing; return its URL."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"


def dev_key(directory: Path) -> str:
    """The local development signing key, made once and kept in the data directory."""
    configured = os.environ.get("NUMECOLE_DEV_KEY")
    if configured:
        return configured
    path = directory / "dev-key"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def resolve_servers(directory: Path | None = None) -> Servers:
    """Use DATABASE_URL / NATS_URL when set; otherwise start (or reuse) embedded servers."""
    root = directory or data_dir()
    root.mkdir(parents=True, exist_ok=True)
    embedded: list[EmbeddedPostgres | EmbeddedNats] = []
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        pg = EmbeddedPostgres(root / "postgres")
        database_url = ensure_database(pg.start(), DATABASE_NAME)
        embedded.append(pg)
    nats_url = os.environ.get("NATS_URL")
    if not nats_url:
        nats = EmbeddedNats(root / "nats")
        nats_url = nats.start()
        embedded.append(nats)
    return Servers(database_url, nats_url, dev_key(root), embedded)
