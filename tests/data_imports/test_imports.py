"""The ENT and GAR imports as use cases, on a real PostgreSQL: each import is recorded as events,
a re-import changes nothing, and nothing of a refused file is stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from events.data_imports import (
    PUPILS_FROM_FILE,
    PUPILS_FROM_REGISTER,
    EntConnections,
    EntConnectionsImported,
    GarAccessesImported,
    GarResourceAccesses,
)
from events.declarations import SchoolClosed
from events.values import Role
from infra.auth import Principal
from infra.errors import FieldError, Forbidden, InvalidInput
from infra.event_store import new_event
from services.declarations.application import DeclarationsApplication
from services.declarations.data_imports import ent_id, gar_id, parse_ent, parse_gar
from services.declarations.domain import school_id
from tests.data_imports.conftest import ADMIN, NEXT_YEAR, REGION_ADMIN, YEAR, open_campaigns

ENT_P1 = b"""uai;eleves;parents;enseignants;effectif
0340001S;150;50;20;
0340002T;60;20;5;90
"""
GAR = """uai;ressource;acces
0340001S;Lalilo;1310
0340001S;\xc9duth\xe8que;42
0340002T;Lalilo;7
""".encode("latin-1")


def stored(app: DeclarationsApplication) -> int:
    """How many events the declarations log holds."""
    return app.recorder.max_notification_id() or 0


def refused(app: DeclarationsApplication, call: Callable[[], object]) -> list[FieldError]:
    """Run `call`, expect InvalidInput, and check nothing was stored."""
    before = stored(app)
    with pytest.raises(InvalidInput) as caught:
        call()
    assert stored(app) == before, "a refused file stored something"
    return caught.value.errors


def test_an_ent_import_records_the_connections_of_each_school_for_the_period(
    app: DeclarationsApplication,
) -> None:
    # The académie's admin imports the first period.
    result = app.import_ent(parse_ent(ENT_P1, 1, YEAR), ADMIN)
    assert (result.recorded, result.unchanged) == (2, 0)
    assert result.position == stored(app)
    # Each school's year holds the period, with the pupils from the file or the register.
    ferry = app.ent_year("0340001S", YEAR)
    (event,) = app.stream(ent_id("0340001S", YEAR))
    assert isinstance(event, EntConnectionsImported)
    assert ferry.periods[1] == event
    assert (event.uai, event.school_year, event.period) == ("0340001S", YEAR, 1)
    assert event.connections == EntConnections(pupils=150, parents=50, teachers=20)
    assert (event.enrolled_pupils, event.pupils_source) == (210, PUPILS_FROM_REGISTER)
    assert (event.actor.user_id, event.actor.role) == ("drane-montpellier", "admin")
    curie = app.ent_year("0340002T", YEAR).periods[1]
    assert (curie.enrolled_pupils, curie.pupils_source) == (90, PUPILS_FROM_FILE)


def test_an_import_is_one_moment_of_the_record(app: DeclarationsApplication) -> None:
    """Its events are recorded together: they share one recording time, so that no moment
    shows some of the file's schools without the others."""
    app.import_ent(parse_ent(ENT_P1, 1, YEAR), ADMIN)
    app.import_gar(parse_gar(GAR, YEAR), ADMIN)
    ent = [app.stream(ent_id(u, YEAR))[0] for u in ("0340001S", "0340002T")]
    gar = [app.stream(gar_id(u, YEAR))[0] for u in ("0340001S", "0340002T")]
    assert ent[0].recorded_at == ent[1].recorded_at
    assert gar[0].recorded_at == gar[1].recorded_at
    assert ent[0].recorded_at < gar[0].recorded_at
    assert all(e.occurred_at <= e.recorded_at for e in ent + gar)


def test_importing_the_same_ent_file_again_records_nothing(app: DeclarationsApplication) -> None:
    first = app.import_ent(parse_ent(ENT_P1, 1, YEAR), ADMIN)
    # Same figures, another spelling of the file: still nothing new.
    again = app.import_ent(parse_ent(ENT_P1.replace(b";", b","), 1, YEAR), ADMIN)
    assert (again.recorded, again.unchanged, again.position) == (0, 2, first.position)
    assert len(app.stream(ent_id("0340001S", YEAR))) == 1


def test_a_corrected_file_for_a_period_records_the_new_figures_of_the_schools_it_changes(
    app: DeclarationsApplication,
) -> None:
    app.import_ent(parse_ent(ENT_P1, 1, YEAR), ADMIN)
    corrected = ENT_P1.replace(b"0340002T;60;20;5;90", b"0340002T;61;20;5;90")
    result = app.import_ent(parse_ent(corrected, 1, YEAR), ADMIN)
    assert (result.recorded, result.unchanged) == (1, 1)
    curie = app.ent_year("0340002T", YEAR)
    assert (curie.version, curie.periods[1].connections.pupils) == (2, 61)
    # Another period goes to the same school year.
    app.import_ent(parse_ent(b"uai;eleves;parents;enseignants\n0340002T;1;2;3\n", 2, YEAR), ADMIN)
    assert sorted(app.ent_year("0340002T", YEAR).periods) == [1, 2]
    assert app.ent_year("0340002T", YEAR).version == 3


def test_a_gar_import_records_the_year_s_resources_and_a_re_import_records_nothing(
    app: DeclarationsApplication,
) -> None:
    result = app.import_gar(parse_gar(GAR, YEAR), ADMIN)
    assert (result.recorded, result.unchanged) == (2, 0)
    (event,) = app.stream(gar_id("0340001S", YEAR))
    assert isinstance(event, GarAccessesImported)
    assert event.resources == [
        GarResourceAccesses(resource="Lalilo", accesses=1310),
        GarResourceAccesses(resource="Éduthèque", accesses=42),
    ]
    again = app.import_gar(parse_gar(GAR, YEAR), ADMIN)
    assert (again.recorded, again.unchanged, again.position) == (0, 2, result.position)
    # Later in the year, more accesses for one school: only it records new figures.
    later = app.import_gar(parse_gar(GAR.replace(b";7", b";19"), YEAR), ADMIN)
    assert (later.recorded, later.unchanged) == (1, 1)
    assert app.gar_year("0340002T", YEAR).resources == (
        GarResourceAccesses(resource="Lalilo", accesses=19),
    )


def test_unknown_schools_are_reported_on_their_lines_and_nothing_is_stored(
    app: DeclarationsApplication,
) -> None:
    ent = ENT_P1 + b"0340003U;1;1;1;\n"
    errors = refused(app, lambda: app.import_ent(parse_ent(ent, 1, YEAR), ADMIN))
    assert [(e.line, e.field) for e in errors] == [(4, "uai")]
    assert "0340003U" in errors[0].message
    gar = GAR + b"0340003U;Lalilo;1\n0340003U;Edumedia;2\n"
    errors = refused(app, lambda: app.import_gar(parse_gar(gar, YEAR), ADMIN))
    assert [(e.line, e.field) for e in errors] == [(5, "uai"), (6, "uai")]


def test_a_school_closed_before_the_year_is_reported_on_its_line(
    app: DeclarationsApplication,
) -> None:
    school = app.find_school("0340002T")
    assert school is not None
    app.record(
        new_event(
            SchoolClosed,
            originator_id=school_id("0340002T"),
            originator_version=school.version + 1,
            uai="0340002T",
            school_year="2022-2023",
            actor=REGION_ADMIN.actor,
            closed_on=date(2023, 7, 7),
        )
    )
    errors = refused(app, lambda: app.import_ent(parse_ent(ENT_P1, 1, YEAR), ADMIN))
    assert [(e.line, e.field) for e in errors] == [(3, "uai")]
    assert "fermée depuis le 07/07/2023" in errors[0].message


def test_a_year_without_campaign_in_the_school_s_academie_is_refused(
    app: DeclarationsApplication,
) -> None:
    errors = refused(app, lambda: app.import_ent(parse_ent(ENT_P1, 1, NEXT_YEAR), ADMIN))
    assert [(e.line, e.field) for e in errors] == [(None, "school_year")]
    assert "Aucune campagne" in errors[0].message
    errors = refused(app, lambda: app.import_gar(parse_gar(GAR, NEXT_YEAR), ADMIN))
    assert [(e.line, e.field) for e in errors] == [(None, "school_year")]


def test_a_period_that_cannot_have_begun_is_refused(app: DeclarationsApplication) -> None:
    open_campaigns(app, NEXT_YEAR)
    file = parse_ent(ENT_P1, 3, NEXT_YEAR)
    errors = refused(app, lambda: app.import_ent(file, ADMIN, today=date(2024, 12, 20)))
    assert [(e.line, e.field) for e in errors] == [(None, "period")]
    assert "01/01/2025" in errors[0].message
    assert app.import_ent(file, ADMIN, today=date(2025, 2, 20)).recorded == 2


@pytest.mark.parametrize(
    "by",
    [
        Principal("directeur", Role.DIRECTEUR, "0340001S"),
        Principal("ien", Role.LECTEUR, "academie:montpellier"),
        Principal("auditeur", Role.AUDITEUR, "*"),
        Principal("drane-toulouse", Role.ADMIN, "academie:toulouse"),
    ],
    ids=lambda p: f"{p.role.value}:{p.scope}",
)
def test_only_the_admin_of_the_schools_academie_may_import(
    app: DeclarationsApplication, by: Principal
) -> None:
    before = stored(app)
    with pytest.raises(Forbidden):
        app.import_ent(parse_ent(ENT_P1, 1, YEAR), by)
    with pytest.raises(Forbidden) as caught:
        app.import_gar(parse_gar(GAR, YEAR), by)
    assert stored(app) == before
    if by.role is Role.ADMIN:
        assert "montpellier" in str(caught.value)


def test_the_region_admin_imports_the_schools_of_both_academies(
    app: DeclarationsApplication,
) -> None:
    ent = ENT_P1 + b"0310001H;100;40;10;\n"
    with pytest.raises(Forbidden, match="toulouse"):
        app.import_ent(parse_ent(ent, 1, YEAR), ADMIN)
    assert app.import_ent(parse_ent(ent, 1, YEAR), REGION_ADMIN).recorded == 3


def test_a_file_stores_all_of_its_schools_or_none_of_them(app: DeclarationsApplication) -> None:
    # A Toulouse school without a campaign for the next year spoils the whole file.
    app.open_campaign("montpellier", NEXT_YEAR, date(2024, 6, 21), date(2024, 9, 27), ADMIN)
    ent = ENT_P1 + b"0310001H;100;40;10;\n"
    errors = refused(app, lambda: app.import_ent(parse_ent(ent, 1, NEXT_YEAR), REGION_ADMIN))
    assert [(e.field, "Toulouse" in e.message) for e in errors] == [("school_year", True)]
    assert app.stream(ent_id("0340001S", NEXT_YEAR)) == []
