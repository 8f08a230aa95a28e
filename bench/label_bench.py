"""The label service over HTTP: proposals + validations per second with 16 concurrent clients on
distinct schools, and the board's read latency for a collège with every criterion of the
collège référentiel in some state.

The label service runs as a real process (`python -m infra.cli run label`, uvicorn) on a fresh
database. Its register is seeded with `SchoolRegistered` events applied by the same function the
`label-register` consumer runs (the bus is not what is measured); both référentiels are published
over HTTP. Client i is the référent and the director of écoles of its own: a référent proposes a
criterion with a comment, the director validates it, criterion after criterion, so no two
clients ever write to the same board. Baseline, same run, same process, same clients:
`GET /health`.

    python -m bench --only label          # within the benchmark suite
    python -m bench.label_bench [--quick] # on its own
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
import msgspec
import psycopg

from bench.common import (
    Component,
    Figure,
    Load,
    Options,
    Section,
    Servers,
    cpu_seconds,
    fresh_database,
    monotonic,
    school_uais,
    servers,
    start_component,
    text_table,
    wait_healthy,
    write_figures,
)
from events.declarations import SchoolDetails, SchoolRegistered
from events.envelope import Actor
from events.values import Role, uai_check_letter
from infra.auth import TokenService
from infra.event_store import new_event, stream_id
from infra.settings import AuthSettings, DatabaseSettings, NatsSettings
from services.label.referentiels import shipped_referentiels
from services.label.register import apply_register_event, ensure_register

COLLEGE = "0340900" + uai_check_letter("0340900")
BOARD_READS = 400  # sequential reads of the collège's board, after a warm-up
# The collège's 50 criteria go through these steps in turn: every state is represented.
STEPS = (
    (),
    ("proposals",),
    ("proposals", "validation"),
    ("proposals", "rejection"),
    ("proposals", "validation", "revocation"),
)


# What client `index` sends, back to back, until its work is done.
Work = Callable[[int, httpx.AsyncClient], Awaitable[None]]


async def timed(clients: list[httpx.AsyncClient], work: Work, pid: int) -> tuple[float, float]:
    """Elapsed seconds, and CPU seconds the service used meanwhile."""
    cpu = cpu_seconds(pid)
    started = monotonic()
    await asyncio.gather(*(work(i, c) for i, c in enumerate(clients)))
    return monotonic() - started, cpu_seconds(pid) - cpu


def headers(service: TokenService, role: Role, scope: str) -> dict[str, str]:
    token = service.issue(f"{role.value}-{scope}", role, scope)
    return {"Authorization": f"Bearer {token}"}


async def seed_register(database: DatabaseSettings, uais: list[str]) -> None:
    admin = Actor("bench-admin", "admin")

    def school(uai: str, kind: str, n: int) -> SchoolRegistered:
        details = SchoolDetails(
            name=f"{'Collège' if kind == 'college' else 'École'} {uai}",
            kind=kind,
            pupils=80 + n % 300,
            commune="Montpellier",
            circonscription=f"34-C{n % 12 + 1}" if kind == "ecole" else None,
            bassin="34-B1" if kind == "college" else None,
            departement="34",
            academie="montpellier",
        )
        return new_event(
            SchoolRegistered,
            originator_id=stream_id("school", uai),
            originator_version=1,
            uai=uai,
            school_year="2026-2027",
            actor=admin,
            details=details,
        )

    conn: asyncpg.Connection = await asyncpg.connect(database.url)
    try:
        await ensure_register(conn)
        async with conn.transaction():
            for n, uai in enumerate(uais):
                await apply_register_event(conn, school(uai, "ecole", n))
            await apply_register_event(conn, school(COLLEGE, "college", 0))
    finally:
        await conn.close()


async def publish(base_url: str, service: TokenService) -> None:
    admin = headers(service, Role.ADMIN, "academie:montpellier")
    async with httpx.AsyncClient(base_url=base_url, headers=admin, timeout=60) as client:
        for ref in shipped_referentiels():
            r = await client.put(
                f"/api/v1/label/referentiels/{ref.version}", content=msgspec.json.encode(ref)
            )
            r.raise_for_status()


async def fill_college_board(base_url: str, service: TokenService) -> None:
    chef = headers(service, Role.CHEF, COLLEGE)
    college = shipped_referentiels()[1]
    codes = [c.code for d in college.domains for c in d.criteria]
    body = {"comment": "Compte rendu de la commission numérique joint.", "reason": "À revoir."}
    async with httpx.AsyncClient(base_url=base_url, headers=chef, timeout=60) as client:
        for code, steps in zip(codes, itertools.cycle(STEPS), strict=False):
            for step in steps:
                r = await client.post(
                    f"/api/v1/schools/{COLLEGE}/label/criteria/{code}/{step}", json=body
                )
                r.raise_for_status()


def recorded_steps(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM label.label_events "
            "WHERE topic IN ('CriterionProposed', 'CriterionValidated')"
        ).fetchone()
    return int(row[0]) if row else 0


async def run(srv: Servers, options: Options, workdir: Path) -> Section:
    dev_key = "bench-" + workdir.name
    service = TokenService(AuthSettings(dev_key=dev_key))
    uais = school_uais(options.schools)
    ecole = shipped_referentiels()[0]
    codes = [c.code for d in ecole.domains for c in d.criteria]
    section = Section("label")
    with fresh_database(srv) as database:
        await seed_register(database, uais)
        component: Component = start_component(
            "label", database, NatsSettings(url=srv.nats_url), dev_key, workdir / "logs"
        )
        try:
            await wait_healthy(component)
            await publish(component.url, service)
            await fill_college_board(component.url, service)
            pid = component.proc.pid
            limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
            clients = [
                httpx.AsyncClient(base_url=component.url, timeout=30, limits=limits)
                for _ in range(options.clients)
            ]
            try:
                loop = asyncio.get_running_loop()

                def health_work(result: Load, duration: float) -> Work:
                    async def work(index: int, client: httpx.AsyncClient) -> None:
                        deadline = loop.time() + duration
                        while loop.time() < deadline:
                            t0 = monotonic()
                            result.count(await client.get("/health"), t0)

                    return work

                # Client i: the écoles i, i + 16, …, each criterion proposed then validated.
                own = [uais[i :: options.clients] for i in range(options.clients)]
                tokens = {
                    uai: (
                        headers(service, Role.REFERENT, uai),
                        headers(service, Role.DIRECTEUR, uai),
                    )
                    for uai in uais
                }
                pairs = [iter([(uai, code) for uai in mine for code in codes]) for mine in own]

                def steps_work(result: Load, duration: float) -> Work:
                    async def work(index: int, client: httpx.AsyncClient) -> None:
                        deadline = loop.time() + duration
                        for uai, code in pairs[index]:
                            if loop.time() >= deadline:
                                return
                            referent, director = tokens[uai]
                            base = f"/api/v1/schools/{uai}/label/criteria/{code}"
                            t0 = monotonic()
                            proposed = await client.post(
                                f"{base}/proposals",
                                json={"comment": "Action présentée en conseil des maîtres."},
                                headers=referent,
                            )
                            if result.count(proposed, t0):
                                t0 = monotonic()
                                result.count(
                                    await client.post(f"{base}/validation", headers=director),
                                    t0,
                                )

                    return work

                def board_work(result: Load, count: int) -> Work:
                    chef = headers(service, Role.CHEF, COLLEGE)

                    async def work(index: int, client: httpx.AsyncClient) -> None:
                        for _ in range(count):
                            t0 = monotonic()
                            result.count(
                                await client.get(f"/api/v1/schools/{COLLEGE}/label", headers=chef),
                                t0,
                            )

                    return work

                # Warm-up: connections, the référentiel cache, the first boards.
                await timed(clients, health_work(Load(), 0.5), pid)
                await timed(clients, steps_work(Load(), 0.5), pid)
                await timed(clients[:1], board_work(Load(), 20), pid)

                async def phase(result: Load, work: Work, on: list[httpx.AsyncClient]) -> None:
                    result.elapsed, result.server_cpu = await timed(on, work, pid)
                    component.check_alive()

                floor = Load()
                await phase(floor, health_work(floor, options.duration), clients)
                before = recorded_steps(database.url)
                writes = Load()
                await phase(writes, steps_work(writes, options.duration), clients)
                recorded = recorded_steps(database.url) - before
                floor_one = Load()
                await phase(floor_one, health_work(floor_one, 2.0), clients[:1])
                board_one = Load()
                await phase(board_one, board_work(board_one, BOARD_READS), clients[:1])
                board_many = Load()
                reads_each = max(10, BOARD_READS // options.clients * 2)
                await phase(board_many, board_work(board_many, reads_each), clients)
            finally:
                await asyncio.gather(*(c.aclose() for c in clients))
        finally:
            peak = component.stop()

    section.figures += [
        *write_figures(
            "proposals+validations", "proposal or validation", options.clients, writes, floor),
        Figure(
            "board read p50 (collège, 50 criteria), 1 client", board_one.latency_ms(50), "ms",
            floor_one.latency_ms(50), "GET /health p50, 1 client", digits=1,
        ),
        Figure(
            "board read p99 (collège, 50 criteria), 1 client", board_one.latency_ms(99), "ms",
            floor_one.latency_ms(99), "GET /health p99, 1 client", digits=1,
        ),
        Figure(
            f"board reads/s, {options.clients} clients", board_many.per_second, "/s",
            floor.per_second, "GET /health/s",
        ),
        Figure("errors", writes.errors + board_one.errors + board_many.errors, ""),
        Figure("peak memory, label service", peak or 0.0, "MiB", digits=1),
    ]  # fmt: skip
    section.notes.append(
        f"{writes.ok} proposals and validations accepted in {writes.elapsed:.1f} s "
        f"({recorded} recorded meanwhile) on {len(uais)} écoles, statuses "
        f"{dict(sorted(writes.statuses.items()))}; service "
        f"{writes.server_cpu / max(writes.elapsed, 1e-9):.2f} cores of {os.cpu_count()}."
    )
    section.notes.append(
        f"Board: {board_one.ok} sequential reads of the collège's board (its 50 criteria "
        f"not proposed, proposed, validated, rejected or revoked, 80 events), then "
        f"{board_many.ok} reads by {options.clients} clients in {board_many.elapsed:.1f} s "
        f"(p50 {board_many.latency_ms(50):.1f} ms, p99 {board_many.latency_ms(99):.1f} ms)."
    )
    if recorded != writes.ok:
        section.notes.append(f"MISMATCH: {writes.ok} accepted but {recorded} recorded.")
    return section


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.label_bench")
    p.add_argument("--quick", action="store_true", help="5 s phases")
    p.add_argument("--duration", type=float, help="seconds of load for the write phase")
    args = p.parse_args(argv)
    options = Options.for_run(args.quick, duration=args.duration)
    workdir = Path(tempfile.mkdtemp(prefix="numecole-label-bench-"))
    try:
        with servers(workdir) as srv:
            section = asyncio.run(run(srv, options, workdir / "label"))
        print(text_table([section]))
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
