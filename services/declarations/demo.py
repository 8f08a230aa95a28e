"""A demo académie: a register, campaigns, a usage catalogue, and declarations, usages and ENT
and GAR imports from 2021-2022 on, recorded through the service's own use cases, each at its
moment of those years, so that the record replays as it stood on any day. Re-running it adds
nothing."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from functools import partial

from events.declarations import SchoolDetails, UsageDefinition
from events.values import Role, uai_check_letter
from infra.auth import Principal
from infra.timeline import Timeline
from services.declarations.application import DeclarationsApplication
from services.declarations.data_imports import parse_ent, parse_gar
from services.declarations.domain import declarations_id, project_declarations
from services.declarations.register_csv import RegisterRow

ACADEMIES = {
    "montpellier": ("11", "30", "34", "48", "66"),
    "toulouse": ("09", "12", "31", "32", "46", "65", "81", "82"),
}
COMMUNES = {
    "11": "Carcassonne",
    "30": "Nîmes",
    "34": "Montpellier",
    "48": "Mende",
    "66": "Perpignan",
    "09": "Foix",
    "12": "Rodez",
    "31": "Toulouse",
    "32": "Auch",
    "46": "Cahors",
    "65": "Tarbes",
    "81": "Albi",
    "82": "Montauban",
}
CATALOGUE = [
    UsageDefinition(
        code="COMMUNICATION_FAMILLES_ENT",
        title="Communication avec les familles (ENT-école)",
        summary="Utilisation de l'ENT-école pour la communication avec les familles",
    ),
    UsageDefinition(
        code="COMMUNICATION_FAMILLES",
        title="Communication avec les familles",
        summary="Utilisation d'une application pour la communication avec les familles",
    ),
    UsageDefinition(
        code="PARENTALITE_NUMERIQUE",
        title="Parentalité numérique",
        summary="Actions d'accompagnement des familles aux usages du numérique",
    ),
    UsageDefinition(
        code="PROGRAMMATION",
        title="Programmation",
        summary="Activités de programmation débranchée ou sur écran",
    ),
    UsageDefinition(
        code="ROBOTIQUE_PEDAGOGIQUE",
        title="Robotique pédagogique",
        summary="Utilisation de robots pour apprendre à programmer",
    ),
    UsageDefinition(
        code="ROBOTEAM", title="Roboteam", summary="Participation au défi académique de robotique"
    ),
    UsageDefinition(
        code="FABLAB",
        title="Fablab",
        summary="Conception et fabrication d'objets avec des outils numériques",
    ),
    UsageDefinition(
        code="CORRESPONDANCE_SCOLAIRE",
        title="Correspondance scolaire",
        summary="Correspondance avec les outils numériques",
    ),
    UsageDefinition(
        code="WEB_RADIO",
        title="Web radio",
        summary="Production et diffusion d'émissions par les élèves",
    ),
    UsageDefinition(
        code="CITOYENNETE_NUMERIQUE",
        title="Citoyenneté numérique",
        summary="Éducation aux médias et à l'information, usages responsables",
    ),
]
YEARS = range(2021, 2027)
ADMIN = Principal("demo-drane", Role.ADMIN, "region:occitanie")


def uai(departement: str, n: int) -> str:
    digits = f"0{departement}{n:04d}"
    return digits + uai_check_letter(digits)


def demo_register(schools_per_circonscription: int = 5) -> list[RegisterRow]:
    rows: list[RegisterRow] = []
    line = 2
    for academie, departements in ACADEMIES.items():
        for dep in departements:
            commune = COMMUNES[dep]
            n = 1
            for circ in (1, 2):
                for i in range(schools_per_circonscription):
                    rows.append(
                        RegisterRow(
                            line,
                            uai(dep, n),
                            SchoolDetails(
                                name=f"École {'Jules Ferry' if i % 2 else 'Marie Curie'} {n}",
                                kind="ecole",
                                pupils=80 + 23 * i,
                                commune=commune,
                                circonscription=f"{dep}-C{circ}",
                                bassin=None,
                                departement=dep,
                                academie=academie,
                            ),
                        )
                    )
                    n += 1
                    line += 1
            rows.append(
                RegisterRow(
                    line,
                    uai(dep, 500 + 1),
                    SchoolDetails(
                        name=f"Collège Hélène Boucher {dep}",
                        kind="college",
                        pupils=540,
                        commune=commune,
                        circonscription=None,
                        bassin=f"{dep}-B1",
                        departement=dep,
                        academie=academie,
                    ),
                )
            )
            line += 1
    return rows


def answers_for(rng: random.Random, classes: int, progress: float) -> dict[str, object]:
    def some(upto: int) -> int:
        return round(upto * min(1.0, max(0.0, progress + rng.uniform(-0.2, 0.2))))

    b3 = some(classes)
    return {
        "A1": classes,
        "A2": rng.choice(["FIBRE", "FIBRE", "ADSL", "NE_SAIT_PAS"]),
        "A3": rng.choice([0, 0, 1, 2, 6]),
        "A4": rng.random() < 0.15,
        "A5": rng.random() < 0.05,
        "A6": rng.random() < 0.08,
        "A7": rng.random() < 0.6,
        "B1": some(classes),
        "B2": min(classes - b3, some(classes) // 3),
        "B3": b3,
        "C1": rng.choice([0, 0, 1]),
        "C2": rng.choice([0, 0, 0, 1]),
        "C3": some(classes) // 2,
    }


def _declared_on(rng: random.Random, year: int) -> datetime:
    """When a director answers for the school year starting in `year`: during its campaign
    (21 June to 27 September), or a little after it for a few."""
    days = rng.uniform(0, 98) if rng.random() > 0.08 else rng.uniform(99, 120)
    return datetime(year, 6, 21, 6, tzinfo=UTC) + timedelta(days=days)


def _open_campaign(app: DeclarationsApplication, academie: str, year: int) -> None:
    if app.campaign(academie, f"{year}-{year + 1}") is None:
        app.open_campaign(
            academie, f"{year}-{year + 1}", date(year, 6, 21), date(year, 9, 27), ADMIN
        )


def load_demo(app: DeclarationsApplication, seed: int = 2024) -> int:
    """Record the demo académie, each step at its moment of its school years (after what
    the log already holds); return how many schools got declarations this time."""
    rng = random.Random(seed)
    rows = demo_register()
    present = datetime.now(UTC)
    timeline = Timeline(app.last_recorded_at())
    start = datetime(YEARS[0], 5, 3, 7, tzinfo=UTC)
    timeline.at(start, partial(app.import_register, rows, ADMIN))
    for academie in ACADEMIES:
        timeline.at(start, partial(app.revise_catalogue, academie, CATALOGUE, ADMIN))
        for year in YEARS:
            timeline.at(
                datetime(year, 5, 15, 8, tzinfo=UTC), partial(_open_campaign, app, academie, year)
            )
    loaded = 0
    for row in rows:
        if row.details.kind != "ecole" or app.find(declarations_id(row.uai), project_declarations):
            continue
        loaded += 1
        director = Principal(f"directeur-{row.uai}", Role.DIRECTEUR, row.uai)
        classes = rng.randint(3, 14)
        progress = rng.uniform(0.1, 0.6)
        for k, year in enumerate(YEARS):
            school_year = f"{year}-{year + 1}"
            when = _declared_on(rng, year)
            if k and rng.random() < 0.06:
                continue  # no answer this year: its profile carries the last answers forward
            if k and rng.random() < 0.3:
                act = partial(app.confirm_declaration, row.uai, school_year, director)
            else:
                answers = answers_for(rng, classes, progress + 0.12 * k)
                act = partial(app.submit_declaration, row.uai, school_year, answers, director)
            if when <= present:
                timeline.at(when, act)
        # Usages come one by one, in the course of the school years.
        for usage in rng.sample(CATALOGUE, rng.randint(0, 5)):
            when = datetime(rng.choice(YEARS), 9, 15, tzinfo=UTC) + timedelta(
                days=rng.uniform(0, 270)
            )
            if when <= present:
                timeline.at(when, partial(app.add_usage, row.uai, usage.code, director))
    if loaded:
        plan_ent_and_gar(app, timeline, rows, rng, present)
    app.recording_clock = timeline
    try:
        timeline.run()
    finally:
        app.recording_clock = None
    return loaded


GAR_RESOURCES = ("Lalilo", "Maskott", "Mon manuel numérique", "Éduthèque", "BNE Lumni")
# When the académie imports each period's ENT connections: soon after the period ends
# (month, day, and whether in the rentrée's calendar year or the next).
ENT_IMPORTED_ON = {1: (0, 11, 6), 2: (1, 1, 8), 3: (1, 3, 6), 4: (1, 5, 6), 5: (1, 7, 8)}


def plan_ent_and_gar(
    app: DeclarationsApplication,
    timeline: Timeline,
    rows: list[RegisterRow],
    rng: random.Random,
    present: datetime,
) -> None:
    """The académie's imports: ENT connections after each period, GAR accès once a year (the
    current year's so far, a few days ago)."""
    ecoles = [r for r in rows if r.details.kind == "ecole"]
    for year in YEARS:
        school_year = f"{year}-{year + 1}"
        for period in range(1, 6):
            later, month, day = ENT_IMPORTED_ON[period]
            when = datetime(year + later, month, day, 8, tzinfo=UTC)
            if when > present:
                break
            lines = ["uai;eleves;parents;enseignants"]
            for r in ecoles:
                pupils = r.details.pupils
                ratio = rng.uniform(0.3, 2.5)
                share = rng.uniform(0.4, 0.7)
                total = int(pupils * ratio)
                lines.append(
                    f"{r.uai};{int(total * share)};{int(total * (1 - share) * 0.7)};"
                    f"{total - int(total * share) - int(total * (1 - share) * 0.7)}"
                )
            ent = parse_ent("\n".join(lines).encode(), period, school_year)
            timeline.at(when, partial(app.import_ent, ent, ADMIN))
        lines = ["uai;ressource;acces"]
        for r in ecoles:
            for resource in rng.sample(GAR_RESOURCES, rng.randint(0, 3)):
                lines.append(f"{r.uai};{resource};{rng.randint(5, 900)}")
        when = min(datetime(year + 1, 7, 10, 8, tzinfo=UTC), present - timedelta(days=2))
        if when >= datetime(year, 9, 15, tzinfo=UTC):
            gar = parse_gar("\n".join(lines).encode(), school_year)
            timeline.at(when, partial(app.import_gar, gar, ADMIN))
