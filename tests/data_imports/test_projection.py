"""ENT and GAR events in the read models, and read back as a school's figures and the
académie's distribution (the log applied through `Projection`, as the projector does)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from fractions import Fraction

import asyncpg
import msgspec
import pytest

import events
import events.ent
from events.data_imports import DATA_IMPORT_EVENTS
from events.ent import EntRule
from events.values import Role
from infra.auth import Principal
from infra.relay import SOURCES
from infra.settings import DatabaseSettings
from services.declarations.application import DeclarationsApplication
from services.declarations.data_imports import parse_ent, parse_gar
from services.declarations.register_csv import parse_register
from services.reporting.ent_gar import (
    EntDistribution,
    GarResource,
    academie_ent_distribution,
    school_ent,
    school_ent_years,
    school_gar,
    school_gar_years,
    territory_ent_distribution,
)
from services.reporting.pending_writes import PendingWrites
from services.reporting.projection import FOLDS, Projection
from services.reporting.projector import ensure_read_models
from tests.data_imports.conftest import ADMIN, NEXT_YEAR, YEAR, open_campaigns
from tests.support import REGISTER_CSV, answers

FERRY, CURIE = "0340001S", "0340002T"  # 210 and 95 pupils
BERT = "0340003U"  # registered by the story
REGISTER_HEADER = REGISTER_CSV.splitlines()[0]
HEADER = "uai;eleves;parents;enseignants\n"


def ent(*lines: str) -> bytes:
    return (HEADER + "".join(f"{line}\n" for line in lines)).encode()


class Projected:
    """The read models of one database, kept up to date with the declarations log."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.position = 0

    async def log(self, after: int) -> list[tuple[int, bytes]]:
        """(position, bytes) of the declarations log after `after`."""
        rows = await self.conn.fetch(
            f"SELECT notification_id, state FROM {SOURCES['declarations'].qualified_table} "
            "WHERE notification_id > $1 ORDER BY notification_id",
            after,
        )
        return [(r["notification_id"], r["state"]) for r in rows]

    async def catch_up(self) -> None:
        async with self.conn.transaction():
            projection = Projection(self.conn)
            for position, data in await self.log(self.position):
                await projection.apply(events.decode(data), "declarations", position, data)
                self.position = position
            await projection.flush()

    async def replay_imports(self) -> None:
        """Fold every ENT and GAR event of the log again into the territory figures, the
        only read models they change (the projector applies an event once; a rebuild starts
        from empty tables; the steps are idempotent all the same). A school's own figures are
        read from the record."""
        async with self.conn.transaction():
            pending = PendingWrites(FOLDS)
            for _, data in await self.log(0):
                event = events.decode(data)
                if isinstance(event, DATA_IMPORT_EVENTS):
                    assert not pending.add(event)  # no fold of the reporting models takes it
            assert pending  # the territory figures' did
            await pending.flush(self.conn)


@pytest.fixture
async def projected(database: DatabaseSettings) -> AsyncIterator[Projected]:
    conn = await asyncpg.connect(database.url)
    try:
        await ensure_read_models(conn)
        yield Projected(conn)
    finally:
        await conn.close()


def declare(app: DeclarationsApplication, uai: str, school_year: str, *, ent: bool) -> None:
    director = Principal(f"directeur-{uai}", Role.DIRECTEUR, uai)
    app.submit_declaration(uai, school_year, answers(A7=ent), director)


@pytest.fixture
def story(app: DeclarationsApplication) -> DeclarationsApplication:
    """Jules Ferry uses the ENT, Marie Curie does not (its connections are imported all the
    same), Paul Bert uses it but has no connections imported; 2023-2024 and 2024-2025."""
    open_campaigns(app, NEXT_YEAR)
    bert = "École Paul Bert;école;120;Sète;34-C3;;34;Montpellier"
    app.import_register(parse_register(f"{REGISTER_HEADER}\n{BERT};{bert}\n".encode()), ADMIN)
    declare(app, FERRY, YEAR, ent=True)
    declare(app, CURIE, YEAR, ent=False)
    declare(app, BERT, YEAR, ent=True)
    # Ferry (210 pupils) reaches one connection per pupil in periods 1, 3 and 4.
    for period, ferry in ((1, "150;50;10"), (2, "100;50;10"), (3, "200;80;30"), (4, "210;0;0")):
        app.import_ent(parse_ent(ent(f"{FERRY};{ferry}", f"{CURIE};500;0;0"), period, YEAR), ADMIN)
    app.import_ent(parse_ent(ent(f"{FERRY};300;100;20"), 1, NEXT_YEAR), ADMIN)
    gar = "uai;ressource;acces\n{0};Lalilo;1310\n{0};Éduthèque;42\n{0};Edumedia;0\n"
    app.import_gar(parse_gar(gar.format(FERRY).encode(), YEAR), ADMIN)
    app.import_gar(parse_gar(b"uai;ressource;acces\n0340001S;Lalilo;12\n", NEXT_YEAR), ADMIN)
    return app


async def test_a_school_s_ent_index_is_read_with_its_periods(
    story: DeclarationsApplication, projected: Projected
) -> None:
    await projected.catch_up()
    ferry = await school_ent(projected.conn, FERRY, YEAR)
    assert ferry is not None
    assert (ferry.index, ferry.periods_reached, ferry.rule_since) == (2, 3, 2018)
    assert [(p.period, p.connections, p.ratio, p.reached) for p in ferry.periods] == [
        (1, 210, 1.0, True),
        (2, 160, 0.76, False),
        (3, 310, 1.48, True),
        (4, 210, 1.0, True),
    ]
    first = ferry.periods[0]
    assert (first.pupil_connections, first.parent_connections, first.teacher_connections) == (
        150,
        50,
        10,
    )
    assert (first.enrolled_pupils, first.pupils_source) == (210, "registre")
    assert ferry.connections == 890
    assert ferry.explanation.startswith("3 périodes sur 4 importées ont compté")
    assert ferry.next_step == (
        "Pour atteindre l'indice 3 : 2 périodes de plus avec au moins une connexion par élève."
    )


async def test_no_index_without_the_ent_or_without_connections(
    story: DeclarationsApplication, projected: Projected
) -> None:
    await projected.catch_up()
    assert await school_ent(projected.conn, CURIE, YEAR) is None  # declared no ENT
    assert await school_ent(projected.conn, BERT, YEAR) is None  # no connections imported
    assert await school_ent(projected.conn, "0310001H", YEAR) is None  # declared nothing
    assert await school_ent(projected.conn, FERRY, "2022-2023") is None  # before any figure


async def test_a_corrected_period_replaces_its_figures(
    story: DeclarationsApplication, projected: Projected
) -> None:
    await projected.catch_up()
    story.import_ent(parse_ent(ent(f"{FERRY};150;50;60"), 2, YEAR), ADMIN)
    await projected.catch_up()
    ferry = await school_ent(projected.conn, FERRY, YEAR)
    assert ferry is not None
    assert [(p.period, p.reached) for p in ferry.periods][1] == (2, True)
    assert (ferry.periods_reached, ferry.index) == (4, 2)


async def test_the_years_of_a_school_for_its_evolution(
    story: DeclarationsApplication, projected: Projected
) -> None:
    await projected.catch_up()
    years = await school_ent_years(projected.conn, FERRY)
    # 2024-2025 has no declaration of its own: 2023-2024's "uses the ENT" carries forward.
    assert {r: (y.school_year, y.index, y.connections) for r, y in years.items()} == {
        2023: ("2023-2024", 2, 890),
        2024: ("2024-2025", 1, 420),
    }
    assert await school_ent_years(projected.conn, CURIE) == {}
    gar = await school_gar_years(projected.conn, FERRY)
    assert {r: (g.resources_used, g.accesses) for r, g in gar.items()} == {
        2023: (2, 1352),
        2024: (1, 12),
    }


async def test_a_school_s_gar_resources_most_accessed_first(
    story: DeclarationsApplication, projected: Projected
) -> None:
    await projected.catch_up()
    ferry = await school_gar(projected.conn, FERRY, YEAR)
    assert ferry is not None
    assert (ferry.school_year, ferry.resources_used, ferry.accesses) == (YEAR, 2, 1352)
    assert ferry.resources == [
        GarResource("Lalilo", 1310),
        GarResource("Éduthèque", 42),
        GarResource("Edumedia", 0),
    ]
    assert await school_gar(projected.conn, CURIE, YEAR) is None
    # A later file for the year is the school's whole list: a resource it no longer lists goes.
    story.import_gar(parse_gar(b"uai;ressource;acces\n0340001S;Lalilo;1400\n", YEAR), ADMIN)
    await projected.catch_up()
    ferry = await school_gar(projected.conn, FERRY, YEAR)
    assert ferry is not None
    assert ferry.resources == [GarResource("Lalilo", 1400)]


async def test_the_academie_s_distribution_of_ent_indices(
    story: DeclarationsApplication, projected: Projected
) -> None:
    await projected.catch_up()
    montpellier = await academie_ent_distribution(projected.conn, "montpellier", YEAR)
    assert montpellier == EntDistribution(
        territory="academie:montpellier",
        school_year=YEAR,
        schools_declared=3,
        schools_using_ent=2,
        using_ent_share=66.67,
        schools_without_figures=1,  # Paul Bert
        index_distribution={"0": 0.0, "1": 0.0, "2": 50.0, "3": 0.0},
    )
    circonscription = await territory_ent_distribution(
        projected.conn, "circonscription", "34-C1", YEAR
    )
    assert (circonscription.schools_declared, circonscription.index_distribution["2"]) == (
        1,
        100.0,
    )
    toulouse = await academie_ent_distribution(projected.conn, "toulouse", YEAR)
    assert (toulouse.schools_declared, toulouse.using_ent_share) == (0, None)
    assert set(toulouse.index_distribution.values()) == {None}
    with pytest.raises(ValueError, match="territory level"):
        await territory_ent_distribution(projected.conn, "name; DROP TABLE x", "34", YEAR)


async def test_a_new_rule_applies_to_the_same_connections_without_a_replay(
    story: DeclarationsApplication, projected: Projected, monkeypatch: pytest.MonkeyPatch
) -> None:
    await projected.catch_up()
    stricter = EntRule(since=2023, min_ratio=Fraction(3, 2), periods_for_index=(1, 2, 5))
    monkeypatch.setattr(events.ent, "ENT_RULES", {2018: EntRule(since=2018), 2023: stricter})
    ferry = await school_ent(projected.conn, FERRY, YEAR)
    assert ferry is not None
    assert (ferry.rule_since, ferry.periods_reached, ferry.index) == (2023, 0, 0)
    assert "1,5 connexions par élève" in ferry.explanation
    next_year = await school_ent(projected.conn, FERRY, NEXT_YEAR)
    assert next_year is not None
    assert (next_year.periods_reached, next_year.index) == (1, 1)  # 420 for 210 pupils


async def test_the_figures_are_read_as_they_stood_at_a_moment(
    story: DeclarationsApplication, projected: Projected
) -> None:
    # Before the story: nothing. Then a corrected period and a new GAR list, recorded later.
    await projected.catch_up()
    before_story = datetime(2020, 1, 1, tzinfo=UTC)
    assert await school_ent(projected.conn, FERRY, YEAR, before_story) is None
    assert await school_gar(projected.conn, FERRY, YEAR, before_story) is None
    assert await school_ent_years(projected.conn, FERRY, before_story) == {}
    assert await school_gar_years(projected.conn, FERRY, before_story) == {}
    earlier = datetime.now(UTC)
    story.import_ent(parse_ent(ent(f"{FERRY};150;50;60"), 2, YEAR), ADMIN)
    story.import_gar(parse_gar(b"uai;ressource;acces\n0340001S;Lalilo;1400\n", YEAR), ADMIN)
    await projected.catch_up()
    then = await school_ent(projected.conn, FERRY, YEAR, earlier)
    now = await school_ent(projected.conn, FERRY, YEAR)
    assert then is not None
    assert now is not None
    assert (then.periods[1].connections, now.periods[1].connections) == (160, 260)
    gar_then = await school_gar(projected.conn, FERRY, YEAR, earlier)
    assert gar_then is not None
    assert gar_then.accesses == 1352
    distribution = await academie_ent_distribution(
        projected.conn, "montpellier", YEAR, before_story
    )
    assert distribution.schools_declared == 0


async def test_handling_the_imports_again_leaves_the_figures_as_they_were(
    story: DeclarationsApplication, projected: Projected
) -> None:
    await projected.catch_up()
    before = (
        await school_ent(projected.conn, FERRY, YEAR),
        await school_gar(projected.conn, FERRY, YEAR),
        await academie_ent_distribution(projected.conn, "montpellier", YEAR),
    )
    await projected.replay_imports()
    after = (
        await school_ent(projected.conn, FERRY, YEAR),
        await school_gar(projected.conn, FERRY, YEAR),
        await academie_ent_distribution(projected.conn, "montpellier", YEAR),
    )
    assert after == before


async def test_an_import_on_record_that_does_not_decode_is_left_out_of_the_school_s_figures(
    story: DeclarationsApplication, projected: Projected
) -> None:
    await projected.catch_up()
    log = SOURCES["declarations"].qualified_table
    # A period 5 whose bytes no longer decode (a period that is no number), as the projector
    # would park it: the school's other periods are still read.
    row = await projected.conn.fetchrow(
        f"SELECT originator_id, originator_version, state FROM {log} "
        "WHERE topic = 'EntConnectionsImported' ORDER BY notification_id DESC LIMIT 1"
    )
    raw = msgspec.json.decode(row["state"])
    raw.update(uai=FERRY, school_year=YEAR, period="cinq")
    await projected.conn.execute(
        f"INSERT INTO {log} (originator_id, originator_version, topic, state) "
        "VALUES ($1, $2, 'EntConnectionsImported', $3)",
        row["originator_id"],
        row["originator_version"] + 1000,
        msgspec.json.encode(raw),
    )
    ferry = await school_ent(projected.conn, FERRY, YEAR)
    assert ferry is not None
    assert [p.period for p in ferry.periods] == [1, 2, 3, 4]
