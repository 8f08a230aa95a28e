"""A demo académie: a register, campaigns, a usage catalogue and five years of declarations,
recorded through the service's own use cases. Re-running it adds nothing."""

from __future__ import annotations

import random
from datetime import date

from events.declarations import SchoolDetails, UsageDefinition
from events.values import Role, uai_check_letter
from infra.auth import Principal
from infra.errors import InvalidInput
from services.declarations.application import DeclarationsApplication
from services.declarations.data_imports import parse_ent, parse_gar
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
        return min(upto, round(upto * min(1.0, progress + rng.uniform(-0.2, 0.2))))

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


def load_demo(app: DeclarationsApplication, seed: int = 2024) -> int:
    """Record the demo académie; return how many schools got declarations this time."""
    rng = random.Random(seed)
    rows = demo_register()
    app.import_register(rows, ADMIN)
    for academie in ACADEMIES:
        app.revise_catalogue(academie, CATALOGUE, ADMIN)
        for year in YEARS:
            if app.campaign(academie, f"{year}-{year + 1}") is None:
                app.open_campaign(
                    academie, f"{year}-{year + 1}", date(year, 6, 21), date(year, 9, 27), ADMIN
                )
    loaded = 0
    for row in rows:
        if row.details.kind != "ecole":
            continue
        director = Principal(f"directeur-{row.uai}", Role.DIRECTEUR, row.uai)
        last = f"{YEARS[-1]}-{YEARS[-1] + 1}"
        if (
            app.declaration(row.uai, last, director).usages
            or app.declaration(row.uai, last, director).answers
        ):
            continue
        loaded += 1
        classes = rng.randint(3, 14)
        start = rng.uniform(0.1, 0.6)
        for k, year in enumerate(YEARS):
            school_year = f"{year}-{year + 1}"
            if k and rng.random() < 0.3:
                app.confirm_declaration(row.uai, school_year, director)
            else:
                app.submit_declaration(
                    row.uai, school_year, answers_for(rng, classes, start + 0.12 * k), director
                )
        for usage in rng.sample(CATALOGUE, rng.randint(0, 5)):
            app.add_usage(row.uai, usage.code, director)
    if loaded:
        load_ent_and_gar(app, rows, rng)
    return loaded


GAR_RESOURCES = ("Lalilo", "Maskott", "Mon manuel numérique", "Éduthèque", "BNE Lumni")


def load_ent_and_gar(
    app: DeclarationsApplication, rows: list[RegisterRow], rng: random.Random
) -> None:
    """The académie's imports: ENT connections after each period elapsed, GAR accès yearly."""
    today = date.today()
    ecoles = [r for r in rows if r.details.kind == "ecole"]
    for year in YEARS:
        school_year = f"{year}-{year + 1}"
        for period in range(1, 6):
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
            try:
                app.import_ent(
                    parse_ent("\n".join(lines).encode(), period, school_year), ADMIN, today
                )
            except InvalidInput:
                break  # a period that has not begun yet
        lines = ["uai;ressource;acces"]
        for r in ecoles:
            for resource in rng.sample(GAR_RESOURCES, rng.randint(0, 3)):
                lines.append(f"{r.uai};{resource};{rng.randint(5, 900)}")
        app.import_gar(parse_gar("\n".join(lines).encode(), school_year), ADMIN)
