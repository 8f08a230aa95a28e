"""Label standing read from the read models: a school's award and levels, and a territory's
share of labelled schools and distribution of levels (to situate a school against its
circonscription or bassin, and its académie).

What a profile shows is as the record stood at a moment (`at`): the register, the référentiel
and the steps recorded by then (read from the record, `on_record.py`). The territory's levels *now* (every school's board, per domain)
come from the current standing and are only served for the present.
"""

from __future__ import annotations

from datetime import date, datetime

import asyncpg
import msgspec

from events.label import CommuneSignature, DomainDefinition, domain_levels, global_level
from events.values import school_year_bounds
from services.reporting.on_record import criteria_states
from services.reporting.territory import LEVELS
from services.reporting.territory_sums import YearSums, territory_sums

_domains = msgspec.json.Decoder(list[DomainDefinition])


class LabelShare(msgspec.Struct):
    """The territory's schools holding a label during the school year, as known at a moment."""

    territory: str
    schools: int  # open schools of the territory
    labelled: int  # holding an award valid during the school year
    labelled_share: float
    level_distribution: dict[str, float]  # share of the labelled schools at each level


class LabelDistribution(LabelShare):
    """With the levels of every school's board now, and per domain for each référentiel."""

    current_levels: dict[str, float]  # share of the schools at each global level (0–3)
    domain_averages: dict[str, dict[str, float]]  # référentiel version -> domain -> mean level


class SchoolLabel(msgspec.Struct):
    level: int | None  # the label held during the school year (awarded in January), if any
    awarded_in: str | None  # the school year of that award
    valid_until: str | None  # the last school year it is valid for
    expires_on: date | None
    global_level: int  # the board's levels as known at the moment
    domain_levels: dict[str, int]
    referentiel_version: str | None
    local: LabelShare | None  # the circonscription (école) or the bassin
    academie: LabelShare
    # The commune an école applied with, as the award records it (None: a collège, a lycée,
    # no award, or an award recorded before the commune was asked for).
    commune: CommuneSignature | None = None


def _share(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def _members(level: str, at: str) -> str:
    """Schools of the territory $1 as the register stood at the moment `at` (a parameter)."""
    if level not in LEVELS:
        raise ValueError(f"unknown territory level {level!r}")
    return (
        f"members AS (SELECT uai FROM reporting.school_versions WHERE {level} = $1 "  # noqa: S608
        f"AND valid_from <= {at} AND (valid_to IS NULL OR valid_to > {at}) "
        "AND closed_on IS NULL)"
    )


def label_share(level: str, code: str, sums: YearSums) -> LabelShare:
    return LabelShare(
        territory=f"{level}:{code}",
        schools=sums.schools,
        labelled=sums.labelled,
        labelled_share=_share(sums.labelled, sums.schools),
        level_distribution={
            str(n): _share(count, sums.labelled)
            for n, count in ((1, sums.l1), (2, sums.l2), (3, sums.l3))
        },
    )


async def territory_shares_by_year(
    conn: asyncpg.Connection,
    level: str,
    code: str,
    first: int,
    last: int,
    at: datetime,
    now: bool = False,
) -> dict[int, LabelShare]:
    """The share of labelled schools for every school year from `first` to `last`: each
    member's latest award valid during the year, recorded by `at`."""
    sums = await territory_sums(conn, level, code, first, last, at, parts=("labels",), now=now)
    return {r: label_share(level, code, s) for r, s in sums.items()}


async def territory_share(
    conn: asyncpg.Connection, level: str, code: str, rentree: int, at: datetime, now: bool = False
) -> LabelShare:
    return (await territory_shares_by_year(conn, level, code, rentree, rentree, at, now))[rentree]


async def territory_label(
    conn: asyncpg.Connection, level: str, code: str, rentree: int, at: datetime
) -> LabelDistribution:
    """The share as known at `at`, with the boards' levels now (`at` is the present)."""
    share = await territory_share(conn, level, code, rentree, at, now=True)
    current = await conn.fetch(
        f"""WITH {_members(level, "$2")}
            SELECT coalesce(st.global_level, 0) AS level, count(*) AS schools
            FROM members LEFT JOIN reporting.label_standing st USING (uai)
            GROUP BY 1""",  # noqa: S608
        code,
        at,
    )
    domains = await conn.fetch(
        f"""WITH {_members(level, "$2")}
            SELECT st.referentiel_version AS version, d.key AS domain,
                   avg(d.value::int) AS level
            FROM reporting.label_standing st JOIN members USING (uai),
                 jsonb_each_text(st.domain_levels) d
            GROUP BY 1, 2 ORDER BY 1, 2""",  # noqa: S608
        code,
        at,
    )
    by_level = {r["level"]: r["schools"] for r in current}
    averages: dict[str, dict[str, float]] = {}
    for r in domains:
        averages.setdefault(r["version"], {})[r["domain"]] = round(float(r["level"]), 2)
    return LabelDistribution(
        **msgspec.structs.asdict(share),
        current_levels={str(n): _share(by_level.get(n, 0), share.schools) for n in range(4)},
        domain_averages=averages,
    )


async def levels_at(
    conn: asyncpg.Connection, uai: str, kind: str, at: datetime
) -> tuple[str | None, dict[str, int]]:
    """The référentiel in force for the school's kind at `at`, and its domain levels then."""
    ref = await conn.fetchrow(
        """SELECT version, domains::text AS domains FROM reporting.label_referentiels
           WHERE $1 = ANY(kinds) AND published_at <= $2 ORDER BY seq DESC LIMIT 1""",
        kind,
        at,
    )
    if ref is None:
        return None, {}
    states = await criteria_states(conn, uai, at)
    validated = {code for code, state in states.items() if state == "validated"}
    return ref["version"], domain_levels(_domains.decode(ref["domains"]), validated)


async def school_label(
    conn: asyncpg.Connection,
    uai: str,
    rentree: int,
    at: datetime,
    academie: LabelShare | None = None,
) -> SchoolLabel | None:
    """The school's label during the school year `rentree`, as the record stood at `at`
    (`academie`: the share of its académie then, when already read)."""
    school = await conn.fetchrow(
        "SELECT kind, circonscription, bassin, academie FROM reporting.school_versions "
        "WHERE uai = $1 AND valid_from <= $2 AND (valid_to IS NULL OR valid_to > $2)",
        uai,
        at,
    )
    if school is None:
        return None
    award = await conn.fetchrow(
        """SELECT school_year, valid_until, level, commune, commune_signatory, commune_office
           FROM reporting.label_awards
           WHERE uai = $1 AND rentree <= $2 AND valid_until_rentree >= $2 AND coalesce(recorded_at, awarded_at) <= $3
           ORDER BY rentree DESC LIMIT 1""",
        uai,
        rentree,
        at,
    )
    version, levels = await levels_at(conn, uai, school["kind"], at)
    local_level = "circonscription" if school["kind"] == "ecole" else "bassin"
    local_code = school[local_level]
    return SchoolLabel(
        level=award["level"] if award else None,
        awarded_in=award["school_year"] if award else None,
        valid_until=award["valid_until"] if award else None,
        expires_on=school_year_bounds(award["valid_until"])[1] if award else None,
        global_level=global_level(levels),
        domain_levels=levels,
        referentiel_version=version,
        local=await territory_share(conn, local_level, local_code, rentree, at)
        if local_code
        else None,
        academie=academie
        or await territory_share(conn, "academie", school["academie"], rentree, at),
        commune=CommuneSignature(
            name=award["commune"],
            signatory=award["commune_signatory"],
            office=award["commune_office"],
        )
        if award and award["commune"] is not None
        else None,
    )
