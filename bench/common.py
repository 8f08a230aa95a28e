"""What the benchmarks share: the servers, a fresh database and stream per run, components run as
real processes (with their peak memory), the machine's description and the figures' table.

Machines are shared and noisy, so a figure is meaningful next to a baseline measured in the same
run, on the same servers: every `Figure` may carry one, and the table prints the ratio.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import platform
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
import nats
import psycopg
from nats.js.errors import NotFoundError

from events.values import uai_check_letter
from infra.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from infra.settings import DatabaseSettings, NatsSettings

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
HTTP_COMPONENTS = ("declarations", "label", "reporting")

# -------------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Options:
    """How big a run is; `--quick` makes a small one."""

    quick: bool = False
    clients: int = 16
    schools: int = 400
    duration: float = 15.0  # seconds of load for each HTTP phase
    events: int = 30_000  # events recorded for the projector's catch-up
    rounds: int = 2  # baseline/real alternations; the best of each is kept
    batch: int = 500  # the projector's fetch batch, used by its baseline too

    @classmethod
    def for_run(
        cls, quick: bool, duration: float | None = None, events: int | None = None
    ) -> Options:
        base = cls(quick=True, duration=5.0, events=5_000) if quick else cls()
        return cls(
            quick=base.quick,
            duration=duration if duration is not None else base.duration,
            events=events if events is not None else base.events,
        )


# -------------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Figure:
    """One measured value, with the same-run baseline it is compared with, if any."""

    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    goal: str = ""  # e.g. "≥ 0.7" (ratio), only for display: nothing is asserted
    digits: int = 0

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline


@dataclass
class Section:
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _number(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}".replace(",", " ")


def _rows(sections: Sequence[Section]) -> list[tuple[str, str, str, str, str, str]]:
    rows = []
    for s in sections:
        for f in s.figures:
            baseline = (
                f"{_number(f.baseline, f.digits)} ({f.baseline_name})"
                if f.baseline is not None
                else ""
            )
            ratio = f"{f.ratio:.2f}" if f.ratio is not None else ""
            rows.append(
                (s.title, f.name, f"{_number(f.value, f.digits)} {f.unit}", baseline, ratio, f.goal)
            )
    return rows


HEADERS = ("bench", "figure", "value", "baseline (same run)", "ratio", "goal")


def text_table(sections: Sequence[Section]) -> str:
    rows = [HEADERS, *_rows(sections)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS))]
    lines = []
    for n, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    for s in sections:
        lines.extend(f"[{s.title}] {note}" for note in s.notes)
    return "\n".join(lines)


def markdown_table(sections: Sequence[Section]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(r) + " |" for r in _rows(sections)]
    notes = [f"- *{s.title}*: {note}" for s in sections for note in s.notes]
    return "\n".join(lines + (["", *notes] if notes else []))


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0–100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


# -------------------------------------------------------------------------------- test data


def school_uais(count: int) -> list[str]:
    """`count` valid UAIs of écoles in the Hérault (0340100X, 0340101Y, …)."""
    if not 0 < count <= 9000:
        raise ValueError("between 1 and 9000 schools")
    codes = [f"{340_100 + n:07d}" for n in range(count)]
    return [c + uai_check_letter(c) for c in codes]


def register_csv(uais: Sequence[str]) -> bytes:
    lines = ["uai;nom;type;eleves;commune;circonscription;bassin;departement;academie"]
    for n, uai in enumerate(uais):
        lines.append(
            f"{uai};École {uai};école;{80 + n % 300};Montpellier;34-C{n % 12 + 1};;34;Montpellier"
        )
    return ("\n".join(lines) + "\n").encode()


def campaign_dates(school_year: str) -> tuple[date, date]:
    rentree = int(school_year[:4])
    return date(rentree, 6, 21), date(rentree, 9, 27)


def answers(classes: int, seed: int) -> dict[str, object]:
    """Valid answers to the 13 questions, varied by `seed`."""
    b = seed % (classes + 1)
    return {
        "A1": classes, "A2": ("ADSL", "FIBRE", "NE_SAIT_PAS")[seed % 3], "A3": seed % 4,
        "A4": seed % 2 == 0, "A5": seed % 3 == 0, "A6": seed % 5 == 0, "A7": seed % 7 != 0,
        "B1": b, "B2": b // 2, "B3": b - b // 2, "C1": seed % 2, "C2": seed % 3, "C3": b,
    }  # fmt: skip


# -------------------------------------------------------------------------------- servers


@dataclass
class Servers:
    postgres_url: str  # the maintenance database of the server
    nats_url: str
    postgres_embedded: bool
    nats_embedded: bool


@contextmanager
def servers(workdir: Path) -> Iterator[Servers]:
    """DATABASE_URL / NATS_URL when set, else embedded servers in `workdir` (stopped after)."""
    started: list[EmbeddedPostgres | EmbeddedNats] = []
    pg_url = os.environ.get("DATABASE_URL")
    nats_url = os.environ.get("NATS_URL")
    try:
        if not pg_url:
            pg = EmbeddedPostgres(workdir / "postgres")
            started.append(pg)
            pg_url = pg.start()
        if not nats_url:
            ns = EmbeddedNats(workdir / "nats")
            started.append(ns)
            nats_url = ns.start()
        yield Servers(
            pg_url, nats_url, postgres_embedded=not os.environ.get("DATABASE_URL"),
            nats_embedded=not os.environ.get("NATS_URL"),
        )  # fmt: skip
    finally:
        for server in reversed(started):
            server.stop()


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@contextmanager
def fresh_database(srv: Servers) -> Iterator[DatabaseSettings]:
    """A database of its own for one bench, dropped afterwards."""
    name = f"numecole_bench_{secrets.token_hex(5)}"
    with psycopg.connect(srv.postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield DatabaseSettings(url=_with_database(srv.postgres_url, name))
    finally:
        with psycopg.connect(srv.postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def fresh_stream(srv: Servers) -> AsyncIterator[NatsSettings]:
    """A subject root and stream of their own (named as `NatsSettings.from_env` derives it);
    the stream is deleted afterwards. The relay creates it."""
    root = f"nb{secrets.token_hex(5)}"
    settings = NatsSettings(url=srv.nats_url, subject_root=root, stream=root.upper())
    try:
        yield settings
    finally:
        nc = await nats.connect(srv.nats_url)
        with contextlib.suppress(NotFoundError):
            await nc.jetstream().delete_stream(settings.stream)
        await nc.close()


# -------------------------------------------------------------------------------- processes


def peak_memory_mib(pid: int) -> float | None:
    """VmHWM (peak resident set size) of a live process, in MiB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of a live process (this one by default), in seconds."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


@dataclass
class Component:
    """A platform component run as `python -m infra.cli run <name>`."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int | None
    log: Path
    peak_mib: float | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def check_alive(self) -> None:
        if not self.alive():
            raise RuntimeError(
                f"{self.name} exited with code {self.proc.returncode}:\n{self.log_tail()}"
            )

    def stop(self) -> float | None:
        """Read the peak memory, then stop (SIGTERM, SIGKILL after 15 s). Returns MiB."""
        if self.alive():
            self.peak_mib = peak_memory_mib(self.proc.pid)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        return self.peak_mib


def component_env(
    database: DatabaseSettings, nats_settings: NatsSettings, dev_key: str
) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database.url,
        "NATS_URL": nats_settings.url,
        "NUMECOLE_SUBJECT_ROOT": nats_settings.subject_root,
        "NUMECOLE_DEV_KEY": dev_key,
        "NUMECOLE_LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    }


def start_component(
    name: str,
    database: DatabaseSettings,
    nats_settings: NatsSettings,
    dev_key: str,
    logs: Path,
) -> Component:
    port = free_port() if name in HTTP_COMPONENTS else None
    cmd = [sys.executable, "-m", "infra.cli", "run", name]
    if port is not None:
        cmd += ["--host", HOST, "--port", str(port)]
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd,
            env=component_env(database, nats_settings, dev_key),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
    return Component(name, proc, port, log)


async def wait_healthy(component: Component, within: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    async with httpx.AsyncClient(base_url=component.url, timeout=1.0) as client:
        while loop.time() < deadline:
            component.check_alive()
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(
        f"{component.name} not healthy within {within:.0f} s:\n{component.log_tail()}"
    )


# -------------------------------------------------------------------------------- the machine


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return None


async def describe_machine(srv: Servers) -> dict[str, str]:
    """What the figures were measured on."""
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    memory = _memory_gib()
    with psycopg.connect(srv.postgres_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT current_setting('server_version'), current_setting('fsync'), "
            "current_setting('synchronous_commit'), current_setting('shared_buffers')"
        ).fetchone()
    pg_version, fsync, sync_commit, shared = row if row else ("?", "?", "?", "?")
    nc = await nats.connect(srv.nats_url)
    try:
        v = nc.connected_server_version
        nats_version = f"{v.major}.{v.minor}.{v.patch}"
    finally:
        await nc.close()
    kind = {True: "embedded (wheel)", False: "system"}
    return {
        "date": date.today().isoformat(),
        "cpu": f"{_cpu_model()}, {cores} logical cores ({usable} usable)",
        "memory": f"{memory:.1f} GiB" if memory is not None else "unknown",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgresql": (
            f"{pg_version}, {kind[srv.postgres_embedded]} "
            f"(fsync={fsync}, synchronous_commit={sync_commit}, shared_buffers={shared})"
        ),
        "nats": f"nats-server {nats_version}, {kind[srv.nats_embedded]}",
    }


def monotonic() -> float:
    return time.perf_counter()


# -------------------------------------------------------------------------------- HTTP load


@dataclass
class Load:
    """What the clients of one phase of HTTP load did."""

    accepted: tuple[int, ...] = (200, 201)  # the statuses that count as done
    ok: int = 0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    server_cpu: float = 0.0  # CPU seconds used by the service meanwhile
    client_cpu: float = 0.0  # and by this process (the clients)

    @property
    def per_second(self) -> float:
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0

    def latency_ms(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000

    def count(self, response: httpx.Response, t0: float) -> bool:
        """Count a response to a request sent at `t0` (`monotonic`); whether it was accepted."""
        self.latencies.append(monotonic() - t0)
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        if response.status_code in self.accepted:
            self.ok += 1
            return True
        self.errors += 1
        return False

    def cores(self) -> str:
        """How busy the service and the clients were, in cores."""
        if self.elapsed <= 0:
            return "?"
        return (
            f"service {self.server_cpu / self.elapsed:.2f} cores, "
            f"clients {self.client_cpu / self.elapsed:.2f} cores"
        )


def write_figures(rate: str, one: str, clients: int, writes: Load, floor: Load) -> list[Figure]:
    """Writes per second (`rate`, e.g. "accepted declarations") and the latency of `one`,
    beside `GET /health` under the same load."""
    return [
        Figure(
            f"{rate}/s, {clients} clients", writes.per_second, "/s",
            floor.per_second, "GET /health/s",
        ),
        Figure(
            f"{one} latency p50", writes.latency_ms(50), "ms",
            floor.latency_ms(50), "GET /health p50", digits=1,
        ),
        Figure(
            f"{one} latency p99", writes.latency_ms(99), "ms",
            floor.latency_ms(99), "GET /health p99", digits=1,
        ),
    ]  # fmt: skip
