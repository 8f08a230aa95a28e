"""The embedded PostgreSQL and NATS servers really start, keep their data and are reused."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import nats
import pytest
from nats.js.api import StorageType

from infra.embedded import EmbeddedNats, EmbeddedPostgres, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path / "pg")
    yield server
    server.stop()


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path / "nats")
    yield server
    server.stop()


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on which something else listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def postmaster_pid(server: EmbeddedPostgres) -> int:
    return int((server.pgdata / "postmaster.pid").read_text().splitlines()[0])


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


# --------------------------------------------------------------------------- PostgreSQL


async def test_postgres_keeps_data_across_restart(pg: EmbeddedPostgres) -> None:
    url = await asyncio.to_thread(pg.start)
    assert url.startswith("postgresql://postgres@127.0.0.1:")
    assert pg.url == url
    assert pg.port not in (5432, None)

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE school (uai text PRIMARY KEY, name text NOT NULL)")
        await conn.execute("INSERT INTO school VALUES ($1, $2)", "0750001A", "Lycée Molière")
    finally:
        await conn.close()

    await asyncio.to_thread(pg.stop)
    assert not (pg.pgdata / "postmaster.pid").exists()
    await asyncio.to_thread(pg.stop)  # idempotent

    again = await asyncio.to_thread(pg.start)
    assert again == url  # the remembered port is reused
    conn = await asyncpg.connect(again)
    try:
        name = await conn.fetchval("SELECT name FROM school WHERE uai = $1", "0750001A")
        assert name == "Lycée Molière"
        assert await conn.fetchval("SHOW server_encoding") == "UTF8"
        assert await conn.fetchval("SHOW listen_addresses") == "127.0.0.1"
        assert await conn.fetchval("SHOW max_connections") == "200"
        assert await conn.fetchval("SHOW fsync") == "on"
    finally:
        await conn.close()
    assert pg.log_file.is_file()


def test_postgres_second_start_reuses_running_server(pg: EmbeddedPostgres) -> None:
    url = pg.start()
    pid = postmaster_pid(pg)

    assert pg.start() == url
    other = EmbeddedPostgres(pg.data_dir)
    assert other.start() == url
    assert postmaster_pid(pg) == pid

    other.stop()
    assert not (pg.pgdata / "postmaster.pid").exists()
    pg.stop()
    other.stop()


def test_postgres_starts_over_a_stale_pid_file(pg: EmbeddedPostgres) -> None:
    url = pg.start()
    pid_file = pg.pgdata / "postmaster.pid"
    content = pid_file.read_text().splitlines()
    pg.stop()

    for stale_pid in (dead_pid(), os.getpid()):  # no process / not postgres
        pid_file.write_text("\n".join([str(stale_pid), *content[1:]]) + "\n")
        assert pg.start() == url
        assert postmaster_pid(pg) != stale_pid
        pg.stop()


def test_postgres_failure_shows_the_log(tmp_path: Path, busy_port: int) -> None:
    server = EmbeddedPostgres(tmp_path / "pg", port=busy_port)
    try:
        with pytest.raises(RuntimeError, match=r"(?is)tail of .*address already in use"):
            server.start()
    finally:
        server.stop()


# --------------------------------------------------------------------------- NATS


async def test_nats_jetstream_keeps_messages_across_restart(nats_server: EmbeddedNats) -> None:
    url = await asyncio.to_thread(nats_server.start)
    assert url.startswith("nats://127.0.0.1:")
    assert nats_server.port not in (4222, None)

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(name="EVENTS", subjects=["events.>"], storage=StorageType.FILE)
        ack = await js.publish("events.school", b"created")
        assert ack.seq == 1
    finally:
        await nc.close()

    await asyncio.to_thread(nats_server.stop)
    await asyncio.to_thread(nats_server.stop)  # idempotent

    again = await asyncio.to_thread(nats_server.start)
    assert again == url
    nc = await nats.connect(again)
    try:
        js = nc.jetstream()
        info = await js.stream_info("EVENTS")
        assert info.config.storage == StorageType.FILE
        assert info.state.messages == 1
        msg = await js.get_msg("EVENTS", 1)
        assert msg.data == b"created"
        assert msg.subject == "events.school"
    finally:
        await nc.close()
    assert nats_server.log_file.is_file()


def test_nats_second_start_reuses_running_server(nats_server: EmbeddedNats) -> None:
    url = nats_server.start()
    pid = int(nats_server.pid_file.read_text())

    assert nats_server.start() == url
    other = EmbeddedNats(nats_server.data_dir)
    assert other.start() == url
    assert int(nats_server.pid_file.read_text()) == pid

    other.stop()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), 0.2).close()
        except OSError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the server still accepts connections after stop()")
    nats_server.stop()
    other.stop()


def test_nats_failure_shows_the_log(tmp_path: Path, busy_port: int) -> None:
    server = EmbeddedNats(tmp_path / "nats", port=busy_port)
    try:
        with pytest.raises(RuntimeError, match=r"(?is)tail of .*address already in use"):
            server.start()
    finally:
        server.stop()


# --------------------------------------------------------------------------- ports


def test_free_port(busy_port: int) -> None:
    assert free_port(busy_port) != busy_port
    port = free_port()
    assert free_port(port) == port


def test_url_before_start_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not been started"):
        _ = EmbeddedPostgres(tmp_path / "pg").url
    with pytest.raises(RuntimeError, match="not been started"):
        _ = EmbeddedNats(tmp_path / "nats").url


def test_context_managers(tmp_path: Path) -> None:
    with EmbeddedNats(tmp_path / "nats") as url:
        assert url.startswith("nats://127.0.0.1:")
    with EmbeddedPostgres(tmp_path / "pg") as url:
        assert url.startswith("postgresql://")
    assert not (tmp_path / "pg" / "pgdata" / "postmaster.pid").exists()
