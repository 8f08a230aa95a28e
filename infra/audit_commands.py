"""The auditors' commands: `numecole verify`, `numecole rebuild`, `numecole replay`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

import asyncpg
import msgspec

from infra.progress import ProgressBar, french, log_size
from infra.settings import DatabaseSettings

if TYPE_CHECKING:
    from services.reporting.rebuild import RebuildReport


def cmd_verify(args: argparse.Namespace) -> int:
    from infra.verify import verify

    url = DatabaseSettings.from_env().url
    bar = ProgressBar(asyncio.run(log_size(url)), label="vérification")
    try:
        report = asyncio.run(verify(url, bar))
    finally:
        bar.close()
    for source, checked in report.checked.items():
        print(f"Journal {source} : {checked} événement(s) vérifié(s).")
    if report.ok:
        print("Intégrité vérifiée : chaque événement est bien chaîné au précédent de son école.")
        return 0
    for b in report.broken:
        print(
            f"LIEN ROMPU — journal {b.source}, position {b.position}, flux {b.stream} "
            f"version {b.version}, école {b.uai or '-'}, {b.type} : {b.reason}",
            file=sys.stderr,
        )
    return 1


def cmd_rebuild(args: argparse.Namespace) -> int:
    from services.reporting.rebuild import RebuildRunning, rebuild

    database = DatabaseSettings.from_env()
    bar = ProgressBar(asyncio.run(log_size(database.url)))
    try:
        report = asyncio.run(rebuild(database, bar))
    except RebuildRunning as exc:
        print(exc, file=sys.stderr)
        return 2
    finally:
        bar.close()
    print(rebuild_summary(report))
    return 0 if report.parked == 0 else 1


def rebuild_summary(report: RebuildReport) -> str:
    """What `numecole rebuild` says once done (the national bench reads its figures)."""
    return (
        f"Modèles de lecture reconstruits : {french(report.applied)} événements en "
        f"{french(report.seconds, 1)} s ({french(report.per_second)}/s), "
        f"{report.parked} écarté(s).\n"
        f"Pic de mémoire : {report.max_rss_kib // 1024} Mio (reconstruction) + "
        f"{report.cells_max_rss_kib // 1024} Mio (chiffres des territoires, en parallèle : "
        f"{french(report.cells_seconds, 1)} s)."
    )


async def _replay(args: argparse.Namespace) -> bytes:
    from events.values import school_year_on
    from infra.errors import InvalidInput
    from services.reporting.app import READ_SETTINGS
    from services.reporting.freshness import StillProjecting, wait_projected_through
    from services.reporting.moments import moment_of
    from services.reporting.school_profile import school_profile
    from services.reporting.territory import territory_errors
    from services.reporting.territory_profile import territory_profile

    try:
        at = moment_of(args.as_of, args.school_year)
    except InvalidInput as exc:
        raise SystemExit("; ".join(e.message for e in exc.errors)) from None
    pool = await asyncpg.create_pool(
        DatabaseSettings.from_env().url, min_size=1, max_size=2, server_settings=READ_SETTINGS
    )
    try:
        if await pool.fetchval("SELECT to_regclass('reporting.tracking')") is None:
            raise SystemExit(
                "Les modèles de lecture n'existent pas encore dans cette base : lancez "
                "`numecole up` ou `numecole rebuild` pour les construire à partir des journaux."
            )
        try:
            await wait_projected_through(pool, at, within=30)
        except StillProjecting:
            raise SystemExit(
                "Les modèles de lecture n'ont pas encore intégré tout ce qui a été enregistré "
                "jusqu'à ce moment : réessayez quand la projection aura rattrapé son retard."
            ) from None
        async with pool.acquire() as conn:
            if args.school:
                profile = await school_profile(conn, args.school, args.school_year, at)
                if profile is None:
                    raise SystemExit(f"L'école {args.school} n'était pas enregistrée à cette date.")
                return msgspec.json.format(msgspec.json.encode(profile), indent=2)
            level, _, code = args.territory.partition(":")
            if territory_errors(level, code):
                raise SystemExit(f"Territoire invalide : {args.territory} (ex. departement:34).")
            territory = await territory_profile(
                conn, level, code, args.school_year or school_year_on(at), at
            )
            return msgspec.json.format(msgspec.json.encode(territory), indent=2)
    finally:
        await pool.close()


def cmd_replay(args: argparse.Namespace) -> int:
    if bool(args.school) == bool(args.territory):
        print("Indiquez --school UAI ou --territory NIVEAU:CODE.", file=sys.stderr)
        return 2
    sys.stdout.buffer.write(asyncio.run(_replay(args)) + b"\n")
    return 0


def add_audit_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    verify = sub.add_parser("verify", help="check the hash chain of every recorded event")
    verify.set_defaults(func=cmd_verify, needs_servers=True)
    rebuild = sub.add_parser("rebuild", help="recompute every read model from the logs")
    rebuild.set_defaults(func=cmd_rebuild, needs_servers=True)
    replay = sub.add_parser("replay", help="a school or territory as the record stood then")
    replay.add_argument("--as-of", help="2024-08-31 or 2024-08-31T18:00:00")
    replay.add_argument("--school-year", help="2024-2025: as the school year ended")
    replay.add_argument("--school", help="a UAI")
    replay.add_argument("--territory", help="LEVEL:CODE, e.g. academie:montpellier")
    replay.set_defaults(func=cmd_replay, needs_servers=True)
