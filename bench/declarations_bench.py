"""Accepted declarations per second over HTTP, with 16 concurrent clients.

The declarations service runs as a real process (`python -m infra.cli run declarations`, uvicorn)
on a fresh database. A register of écoles and a campaign are seeded over HTTP, then the clients,
each the director of schools of its own (so no write ever conflicts), submit declarations for a
fixed time. Baseline, same run, same process, same clients: `GET /health`, the framework's floor.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

from bench.common import (
    Component,
    Figure,
    Load,
    Options,
    Section,
    Servers,
    answers,
    campaign_dates,
    cpu_seconds,
    fresh_database,
    monotonic,
    register_csv,
    school_uais,
    start_component,
    wait_healthy,
    write_figures,
)
from events.values import Role, school_year_on
from infra.auth import TokenService
from infra.settings import AuthSettings, NatsSettings

ACADEMIE = "montpellier"
WARMUP_REQUESTS = 5  # per client and kind, before anything is timed


# (client index, client, request number) -> response
Request = Callable[[int, httpx.AsyncClient, int], Awaitable[httpx.Response]]


async def load(
    clients: list[httpx.AsyncClient], request: Request, duration: float, server_pid: int
) -> Load:
    """Every client sends `request` back to back until `duration` is over."""
    result = Load(accepted=(200,))
    server_cpu, client_cpu = cpu_seconds(server_pid), cpu_seconds()
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + duration

    async def client_loop(index: int, client: httpx.AsyncClient) -> None:
        for n in itertools.count():
            if loop.time() >= deadline:
                return
            t0 = monotonic()
            try:
                response = await request(index, client, n)
            except httpx.HTTPError:
                result.errors += 1
                continue
            result.count(response, t0)

    await asyncio.gather(*(client_loop(i, c) for i, c in enumerate(clients)))
    result.elapsed = loop.time() - started
    result.server_cpu = cpu_seconds(server_pid) - server_cpu
    result.client_cpu = cpu_seconds() - client_cpu
    return result


def tokens_for(auth: AuthSettings, uais: list[str]) -> dict[str, dict[str, str]]:
    service = TokenService(auth)
    return {
        uai: {"Authorization": f"Bearer {service.issue(f'directeur-{uai}', Role.DIRECTEUR, uai)}"}
        for uai in uais
    }


async def seed(base_url: str, auth: AuthSettings, uais: list[str], school_year: str) -> None:
    token = TokenService(auth).issue("bench-admin", Role.ADMIN, f"academie:{ACADEMIE}")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=120) as client:
        r = await client.post(
            "/api/v1/admin/register",
            content=register_csv(uais),
            headers={"content-type": "text/csv"},
        )
        r.raise_for_status()
        opens_on, closes_on = campaign_dates(school_year)
        r = await client.put(
            f"/api/v1/admin/academies/{ACADEMIE}/campaigns/{school_year}",
            json={"opens_on": opens_on.isoformat(), "closes_on": closes_on.isoformat()},
        )
        r.raise_for_status()


def submitted_count(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM declarations.declarations_events "
            "WHERE topic = 'DeclarationSubmitted'"
        ).fetchone()
    return int(row[0]) if row else 0


async def run(srv: Servers, options: Options, workdir: Path) -> Section:
    dev_key = "bench-" + workdir.name
    auth = AuthSettings(dev_key=dev_key)
    uais = school_uais(options.schools)
    school_year = school_year_on(datetime.now(UTC))
    section = Section("declarations")
    with fresh_database(srv) as database:
        # The service does not use NATS; the settings are passed for completeness only.
        component: Component = start_component(
            "declarations", database, NatsSettings(url=srv.nats_url), dev_key, workdir / "logs"
        )
        try:
            await wait_healthy(component)
            await seed(component.url, auth, uais, school_year)
            headers = tokens_for(auth, uais)
            # Client i is the director of schools i, i + 16, i + 32, …: no two clients write
            # for the same school, so no write ever meets a concurrent one (409).
            own = [uais[i :: options.clients] for i in range(options.clients)]
            limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
            clients = [
                httpx.AsyncClient(base_url=component.url, timeout=30, limits=limits)
                for _ in range(options.clients)
            ]
            try:

                async def health(index: int, client: httpx.AsyncClient, n: int) -> httpx.Response:
                    return await client.get("/health")

                async def declare(index: int, client: httpx.AsyncClient, n: int) -> httpx.Response:
                    mine = own[index]
                    uai = mine[n % len(mine)]
                    return await client.put(
                        f"/api/v1/schools/{uai}/declarations/{school_year}",
                        json={"answers": answers(1 + (n * 7 + len(uai)) % 60, n)},
                        headers=headers[uai],
                    )

                for request in (health, declare):
                    warm = await load(clients, request, 0.5, component.proc.pid)
                    if warm.errors:
                        raise RuntimeError(f"warm-up of {request.__name__}: {warm.statuses}")
                before = submitted_count(database.url)
                floor = await load(clients, health, options.duration, component.proc.pid)
                component.check_alive()
                writes = await load(clients, declare, options.duration, component.proc.pid)
                component.check_alive()
                recorded = submitted_count(database.url) - before
            finally:
                await asyncio.gather(*(c.aclose() for c in clients))
        finally:
            peak = component.stop()

    section.figures += [
        *write_figures("accepted declarations", "declaration", options.clients, writes, floor),
        Figure("declaration errors", writes.errors, "", floor.errors, "GET /health errors"),
        Figure("peak memory, declarations service", peak or 0.0, "MiB", digits=1),
    ]  # fmt: skip
    section.notes.append(
        f"{writes.ok} declarations accepted in {writes.elapsed:.1f} s "
        f"({recorded} DeclarationSubmitted recorded meanwhile), {len(uais)} écoles, "
        f"statuses {dict(sorted(writes.statuses.items()))}; "
        f"{floor.ok} GET /health in {floor.elapsed:.1f} s."
    )
    section.notes.append(
        f"CPU during declarations: {writes.cores()}; during GET /health: {floor.cores()} "
        f"(of {os.cpu_count()} cores: the clients share the machine)."
    )
    if recorded != writes.ok:
        section.notes.append(f"MISMATCH: {writes.ok} accepted but {recorded} recorded.")
    return section
