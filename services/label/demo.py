"""The label side of the demo académie: both référentiels, and a year and a half of label
activity (proposals, validations, a few rejections, January applications), recorded through the
service's own use cases. Re-running it adds nothing."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from psycopg.rows import dict_row

from events.values import Role, parse_school_year, school_year_on
from infra.auth import Principal
from infra.settings import DatabaseSettings
from infra.timeline import Timeline
from services.label.app import open_application
from services.label.application import CommuneSigner, LabelApplication
from services.label.referentiels import ReferentielContent, shipped_referentiels
from services.label.register import PostgresRegister
from services.label.register_consumer import catch_up

ADMIN = Principal("demo-drane", Role.ADMIN, "region:occitanie")
COMMENTS = (
    "Présenté et discuté en commission numérique ; compte rendu joint.",
    "Action menée depuis la rentrée, traces dans l'ENT (blog et cahier de textes).",
    "Voir le bilan présenté au conseil pédagogique.",
    "Mis en place avec l'appui du conseiller numérique ; planning en pièce jointe.",
    "Les enseignants concernés ont déposé leurs productions dans l'espace partagé.",
)
REASONS = (
    "Pas encore de trace de l'action cette année : à reproposer avec le compte rendu.",
    "L'action ne concerne qu'une classe, le critère en demande davantage.",
)
# Who signs an école's application for its commune.
SIGNATORIES = (
    CommuneSigner("Claire Martin", "maire"),
    CommuneSigner("Jean-Marc Roux", "adjoint au numérique"),
    CommuneSigner("Nadia Benali", "adjointe à l'éducation"),
    CommuneSigner("Pierre Fabre", "maire"),
    CommuneSigner("Sophie Garcia", "conseillère municipale déléguée au numérique"),
)


@dataclass
class SchoolClock:
    """The moments of one school's steps: they only go forward, so that its steps keep their
    order among every school's on the timeline."""

    now: datetime

    def move(self, moment: datetime) -> None:
        self.now = max(self.now, moment)

    def tick(self, rng: random.Random) -> None:
        self.now += timedelta(hours=rng.randint(2, 24))


def _schools(register: PostgresRegister) -> list[dict[str, str | None]]:
    with register.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT uai, kind, circonscription, bassin FROM label.register_schools "
            "WHERE closed_on IS NULL ORDER BY uai"
        )
        return list(cur.fetchall())


def _people(school: dict[str, str | None]) -> tuple[Principal, Principal, Principal]:
    uai = str(school["uai"])
    if school["kind"] == "ecole":
        head = Principal(f"directeur-{uai}", Role.DIRECTEUR, uai)
        adviser = Principal(
            f"erun-{school['circonscription']}",
            Role.CONSEILLER,
            f"circonscription:{school['circonscription']}",
        )
    else:
        head = Principal(f"chef-{uai}", Role.CHEF, uai)
        adviser = Principal(
            f"conseiller-{school['bassin']}", Role.CONSEILLER, f"bassin:{school['bassin']}"
        )
    return Principal(f"referent-{uai}", Role.REFERENT, uai), head, adviser


def _activity(
    app: LabelApplication,
    timeline: Timeline,
    rng: random.Random,
    school: dict[str, str | None],
    today: datetime,
) -> None:
    """Plan one school's label steps on the timeline."""
    uai = str(school["uai"])
    referent, head, adviser = _people(school)
    board = app.board(uai, head)
    target = rng.choices((0, 1, 2, 3), weights=(3, 4, 2, 1))[0]
    # Last school year: everything up to the target level, validated by the head or the adviser.
    rentree = parse_school_year(school_year_on(today))
    clock = SchoolClock(
        datetime(rentree - 1, 10, 1, 8, tzinfo=UTC) + timedelta(days=rng.randint(0, 20))
    )

    def step(act: Callable[[], object]) -> None:
        timeline.at(clock.now, act)
        clock.tick(rng)

    for d in board.domains:
        for c in d.criteria:
            if c.level > target:
                continue
            by = rng.choice((referent, referent, head))
            step(partial(app.propose, uai, c.code, rng.choice(COMMENTS), by))
            if rng.random() < 0.1:
                step(partial(app.reject, uai, c.code, rng.choice(REASONS), head))
                step(partial(app.propose, uai, c.code, rng.choice(COMMENTS), referent))
            step(partial(app.validate, uai, c.code, rng.choice((head, head, adviser))))
    # In January, most schools that reached a level apply.
    if target >= 1 and rng.random() < 0.7:
        clock.move(datetime(rentree, 1, 12, 9, tzinfo=UTC) + timedelta(days=rng.randint(0, 15)))
        # Drawn from the UAI, not from `rng`, so that the rest of the demo stays as it was.
        signer = SIGNATORIES[int(uai[:7]) % len(SIGNATORIES)]
        step(partial(app.apply_for_label, uai, head, signer if school["kind"] == "ecole" else None))
    # This school year: a few new proposals, still waiting for a decision (at least one, so
    # that a second loading finds the board started and adds nothing).
    clock.move(
        max(datetime(rentree, 9, 2, 8, tzinfo=UTC), today - timedelta(days=rng.randint(3, 30)))
    )
    pending = [c for d in board.domains for c in d.criteria if c.level == target + 1]
    for c in rng.sample(pending, min(len(pending), rng.randint(1, 3))):
        step(partial(app.propose, uai, c.code, rng.choice(COMMENTS), referent))


def load_demo(database: DatabaseSettings, seed: int = 2026, share: float = 0.6) -> int:
    """Publish both référentiels and record label activity for about `share` of the schools
    of the register (caught up from the declarations log first), each step at its moment of
    the last school year and this one (after what the log already holds). Returns how many
    schools got activity this time."""
    asyncio.run(catch_up(database))
    today = datetime.now(UTC)
    rentree = parse_school_year(school_year_on(today))
    app, register = open_application(database, pool_size=2)
    timeline = Timeline(app.last_recorded_at())
    # The label's rules read the day from the recording clock too (`LabelApplication.clock`).
    app.recording_clock = timeline
    try:
        for ref in shipped_referentiels():
            content = ReferentielContent(title=ref.title, kinds=ref.kinds, domains=ref.domains)
            timeline.at(
                datetime(rentree - 1, 9, 1, 8, tzinfo=UTC),
                partial(app.publish_referentiel, ref.version, content, ADMIN),
            )
        # Published before the boards that show them are planned.
        timeline.run()
        rng = random.Random(seed)
        loaded = 0
        for school in _schools(register):
            chosen = rng.random() < share
            uai = str(school["uai"])
            if not chosen or app.board(uai, ADMIN).board_version > 0:
                continue
            _activity(app, timeline, random.Random(f"{seed}:{uai}"), school, today)
            loaded += 1
        timeline.run()
        return loaded
    finally:
        app.close()
        register.close()
