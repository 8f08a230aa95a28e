"""Platform components as real processes (`numecole run …`), for end-to-end and crash tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from infra.embedded import free_port
from infra.settings import AuthSettings, DatabaseSettings, NatsSettings

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Component:
    name: str
    proc: subprocess.Popen[bytes]
    port: int | None
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL: no clean-up, no flush, like a power cut for this process."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Platform:
    database: DatabaseSettings
    nats: NatsSettings
    auth: AuthSettings
    logs: Path
    components: dict[str, Component] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        assert self.auth.dev_key is not None
        return {
            **os.environ,
            "DATABASE_URL": self.database.url,
            "NATS_URL": self.nats.url,
            "NUMECOLE_SUBJECT_ROOT": self.nats.subject_root,
            "NUMECOLE_DEV_KEY": self.auth.dev_key,
            "NUMECOLE_LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
        }

    def start(self, name: str) -> Component:
        port = free_port() if name in ("declarations", "label", "reporting") else None
        cmd = [sys.executable, "-m", "infra.cli", "run", name]
        if port is not None:
            cmd += ["--port", str(port)]
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(cmd, env=self.env(), cwd=ROOT, stdout=out, stderr=out)
        component = Component(name, proc, port, log)
        self.components[name] = component
        if port is not None:
            wait_healthy(component)
        return component

    def url(self, name: str) -> str:
        return self.components[name].url

    def stop(self) -> None:
        for component in self.components.values():
            component.stop()


def wait_healthy(component: Component, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if component.proc.poll() is not None:
            raise RuntimeError(f"{component.name} exited:\n{component.log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{component.url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{component.name} not healthy:\n{component.log.read_text()[-3000:]}")


@contextmanager
def running_platform(
    database: DatabaseSettings,
    nats: NatsSettings,
    auth: AuthSettings,
    logs: Path,
    names: tuple[str, ...] = ("declarations", "reporting", "relay", "projector"),
) -> Iterator[Platform]:
    platform = Platform(database, nats, auth, logs)
    try:
        for name in names:
            platform.start(name)
        yield platform
    finally:
        platform.stop()
