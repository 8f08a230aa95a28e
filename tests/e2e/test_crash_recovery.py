"""SIGKILL the relay and the projector in the middle of a stream of writes: after restart, every
accepted declaration appears exactly once in the profiles, and once on the bus."""

from __future__ import annotations

import asyncio
import random
from datetime import date
from pathlib import Path

import asyncpg
import httpx
import nats

from events.declarations import SchoolDetails
from events.values import Role, uai_check_letter
from infra.settings import AuthSettings, DatabaseSettings, NatsSettings
from tests.processes import Platform, running_platform
from tests.support import answers, bearer

SCHOOLS = [f"0340{n:03d}" + uai_check_letter(f"0340{n:03d}") for n in range(100, 124)]
YEARS = ("2023-2024", "2024-2025")


def register_csv() -> bytes:
    lines = ["uai;nom;type;eleves;commune;circonscription;bassin;departement;academie"]
    for uai in SCHOOLS:
        d = SchoolDetails(
            name=f"École {uai}", kind="ecole", pupils=100, commune="Sète",
            circonscription="34-C9", bassin=None, departement="34", academie="montpellier",
        )  # fmt: skip
        lines.append(
            f"{uai};{d.name};école;{d.pupils};{d.commune};{d.circonscription};;34;Montpellier"
        )
    return ("\n".join(lines) + "\n").encode()


async def write_stream(
    platform: Platform,
    auth: AuthSettings,
    accepted: dict[tuple[str, str], int],
    stop: asyncio.Event,
) -> int:
    """Directors keep submitting; returns the highest position accepted."""
    last = 0
    rng = random.Random(7)
    async with httpx.AsyncClient(base_url=platform.url("declarations"), timeout=30) as client:
        while not stop.is_set():
            uai, year = rng.choice(SCHOOLS), rng.choice(YEARS)
            classes = rng.randint(1, 60)
            r = await client.put(
                f"/api/v1/schools/{uai}/declarations/{year}",
                json={"answers": answers(A1=classes, B1=0, B2=0, B3=0, C3=0)},
                headers=bearer(auth, Role.DIRECTEUR, uai),
            )
            if r.status_code == 200:
                accepted[(uai, year)] = classes
                last = max(last, r.json()["position"])
            else:
                assert r.status_code == 409, r.text
    return last


async def chaos(platform: Platform, rounds: int) -> None:
    rng = random.Random(11)
    for _ in range(rounds):
        await asyncio.sleep(rng.uniform(0.3, 0.9))
        victim = rng.choice(["relay", "projector"])
        platform.components[victim].kill()
        await asyncio.sleep(rng.uniform(0.1, 0.5))
        platform.start(victim)


async def wait_caught_up(pool: asyncpg.Pool, position: int, within: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        reached = await pool.fetchval(
            "SELECT position FROM reporting.tracking WHERE source = 'declarations'"
        )
        if reached is not None and reached >= position:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"projection stuck below {position}")


async def test_no_accepted_declaration_is_lost_or_doubled(
    database: DatabaseSettings, nats_settings: NatsSettings, auth: AuthSettings, tmp_path: Path
) -> None:
    with running_platform(database, nats_settings, auth, tmp_path) as platform:
        base = platform.url("declarations")
        admin = bearer(auth, Role.ADMIN, "academie:montpellier")
        async with httpx.AsyncClient(base_url=base, headers=admin) as client:
            r = await client.post(
                "/api/v1/admin/register",
                content=register_csv(),
                headers={"content-type": "text/csv"},
            )
            assert r.status_code == 200, r.text
            for year in YEARS:
                rentree = int(year[:4])
                r = await client.put(
                    f"/api/v1/admin/academies/montpellier/campaigns/{year}",
                    json={
                        "opens_on": str(date(rentree, 6, 21)),
                        "closes_on": str(date(rentree, 9, 27)),
                    },
                )
                assert r.status_code == 200, r.text
        # Directors write for a while; meanwhile relay and projector are killed and restarted.
        accepted: dict[tuple[str, str], int] = {}
        stop = asyncio.Event()
        writer = asyncio.create_task(write_stream(platform, auth, accepted, stop))
        await chaos(platform, rounds=8)
        stop.set()
        last_position = await writer
        assert len(accepted) > 20
        print(f"accepted writes for {len(accepted)} (school, year), last position {last_position}")

        pool = await asyncpg.create_pool(database.url, min_size=1, max_size=2)
        try:
            await wait_caught_up(pool, last_position)
            # Every accepted declaration, with its last accepted answers.
            rows = await pool.fetch("SELECT uai, school_year, classes FROM reporting.declarations")
            assert {(r["uai"], r["school_year"]): r["classes"] for r in rows} == accepted
            # Exactly once: each school's declarations applied as many times as recorded (a
            # copy applied again would break the versions' key, and be parked).
            recorded = await pool.fetch(
                "SELECT convert_from(state, 'UTF8')::jsonb->>'uai' AS uai, count(*) AS n "
                "FROM declarations.declarations_events "
                "WHERE topic IN ('DeclarationSubmitted', 'DeclarationConfirmed') GROUP BY 1"
            )
            applied = await pool.fetch(
                "SELECT uai, count(*) AS n FROM reporting.declaration_versions GROUP BY 1"
            )
            assert {r["uai"]: r["n"] for r in applied} == {r["uai"]: r["n"] for r in recorded}
            total = await pool.fetchval("SELECT count(*) FROM declarations.declarations_events")
            parked = await pool.fetchval("SELECT count(*) FROM reporting.parked")
            assert parked == 0
        finally:
            await pool.close()
        # Once on the bus too: republished copies were de-duplicated by Nats-Msg-Id.
        nc = await nats.connect(nats_settings.url)
        info = await nc.jetstream().stream_info(nats_settings.stream)
        await nc.close()
        assert info.state.messages == total
