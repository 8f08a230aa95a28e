"""The production settings: a NATS cluster in one URL, replicas, the shipped server config."""

from __future__ import annotations

import subprocess
import sysconfig
from pathlib import Path

import pytest

from infra.jetstream import stream_config
from infra.settings import NatsSettings

ROOT = Path(__file__).resolve().parents[2]


def test_a_cluster_is_written_as_comma_separated_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_URL", "nats://nats-1:4222, nats://nats-2:4222,nats://nats-3:4222")
    monkeypatch.setenv("NUMECOLE_STREAM_REPLICAS", "3")
    settings = NatsSettings.from_env()
    assert settings.servers == ["nats://nats-1:4222", "nats://nats-2:4222", "nats://nats-3:4222"]
    config = stream_config(settings)
    assert config.num_replicas == 3
    assert config.subjects == ["numecole.>"]


def test_the_shipped_nats_config_is_valid_and_syncs_every_write() -> None:
    config = ROOT / "infra" / "deploy" / "nats.conf"
    assert "sync_interval: always" in config.read_text()
    server = Path(sysconfig.get_path("scripts")) / "nats-server"
    checked = subprocess.run(
        [str(server), "-c", str(config), "-t"], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr + checked.stdout
