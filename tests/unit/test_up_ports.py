"""`numecole up` refuses to start when a service's port is taken, before starting anything."""

from __future__ import annotations

import socket

import pytest

from infra import cli, platform


def test_a_busy_port_stops_up_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_servers(*args: object) -> None:
        raise AssertionError("no server is started when a port is taken")

    monkeypatch.setattr(platform, "resolve_servers", no_servers)
    monkeypatch.setattr(cli, "configure_logging", lambda service: None)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        # The reporting service, third of the three, would listen on the taken port.
        assert cli.main(["up", "--port-base", str(port - 2)]) == 1
    err = capsys.readouterr().err
    assert f"{port} (reporting)" in err
    assert err.startswith("Numécole ne peut pas démarrer : port déjà utilisé : ")
    assert "--port-base" in err
