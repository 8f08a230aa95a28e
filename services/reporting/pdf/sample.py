"""Realistic profiles for previews, tests and the benchmark (no database needed)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from events.equipment import EXPLANATIONS, equipment_index, next_step
from events.label import CommuneSignature
from services.reporting.label_standing import LabelDistribution, SchoolLabel
from services.reporting.school_profile import (
    Comparison,
    DeclarationInfo,
    EquipmentOut,
    SchoolProfile,
    Usage,
    YearPoint,
    share,
)

USAGES = [
    Usage(
        "COMMUNICATION_FAMILLES",
        "Communication avec les familles",
        "Utilisation d'une application pour la communication avec les familles.",
    ),
    Usage(
        "CORRESPONDANCE_SCOLAIRE",
        "Correspondance scolaire",
        "Correspondance avec les outils numériques.",
    ),
    Usage(
        "PROGRAMMATION",
        "Programmation et robotique",
        "Les élèves programment des robots de sol ou des logiciels (Scratch Junior, Blue-Bot).",
    ),
    Usage(
        "WEB_RADIO",
        "Web radio de l'école",
        "Les élèves préparent, enregistrent et diffusent des émissions : interviews, chroniques, "
        "lectures à voix haute.",
    ),
    Usage(
        "CAHIER_MULTIMEDIA",
        "Cahier multimédia",
        "Un cahier de vie numérique partagé avec les familles, où la classe publie photos, sons "
        "et textes.",
    ),
    Usage(
        "RESSOURCES_GAR",
        "Ressources numériques du GAR",
        "Manuels et ressources éducatives consultés via le gestionnaire d'accès aux ressources.",
    ),
    Usage(
        "EDUCATION_MEDIAS",
        "Éducation aux médias et à l'information",
        "Analyse d'images et de sources, « fausses nouvelles », citoyenneté numérique.",
    ),
    Usage(
        "LANGUES_VIVANTES",
        "Langues vivantes",
        "Échanges à distance avec une classe partenaire et exercices d'écoute en anglais.",
    ),
    Usage(
        "PRODUCTION_ECRITS",
        "Production d'écrits",
        "Traitement de texte, révision et mise en page des textes des élèves.",
    ),
    Usage(
        "MATHEMATIQUES",
        "Mathématiques",
        "Logiciels de géométrie dynamique et exerciseurs de calcul mental différenciés.",
    ),
    Usage(
        "SCIENCES",
        "Sciences et technologie",
        "Mesures avec des capteurs, photos au microscope numérique, comptes rendus illustrés.",
    ),
    Usage(
        "CITOYENNETE_NUMERIQUE",
        "Citoyenneté numérique",
        "Préparation de l'attestation Pix : usages responsables d'internet et des écrans.",
    ),
]


def sample_profile(
    usages: int = 12,
    *,
    classes: int = 8,
    teacher: int = 8,
    pupil: int = 8,
    ent: bool | None = True,
    declared: bool = True,
    produced_at: datetime | None = None,
    label_level: int | None = 2,
) -> SchoolProfile:
    """A profile of an école of the Hérault; `usages` beyond the dozen above are generated."""
    chosen = [*USAGES[:usages]]
    for n in range(len(chosen), usages):
        chosen.append(
            Usage(
                f"USAGE_{n + 1}",
                f"Usage numérique n° {n + 1}",
                "Un usage proposé par l'académie, décrit en une phrase ou deux comme dans le "
                "catalogue : activité, outils, organisation de la classe.",
            )
        )
    index = equipment_index(classes, teacher, pupil)
    produced = produced_at or datetime(2025, 6, 25, 9, 30, tzinfo=UTC)
    return SchoolProfile(
        uai="0340001S",
        name="École élémentaire Jules Ferry",
        kind="école",
        commune="Montpellier",
        circonscription="34-C1",
        bassin=None,
        departement="34",
        academie="montpellier",
        school_year="2024-2025",
        produced_at=produced,
        as_of=produced,
        declaration=DeclarationInfo(
            "2024-2025", False, datetime(2025, 6, 20, 14, 5, tzinfo=UTC), False
        )
        if declared
        else None,
        equipment=EquipmentOut(
            index,
            EXPLANATIONS[index],
            next_step(classes, teacher, pupil),
            classes,
            teacher,
            share(teacher, classes),
            pupil,
            share(pupil, classes),
        )
        if declared
        else None,
        internet="FIBRE" if declared else None,
        robots=3 if declared else None,
        web_radio=True if declared else None,
        web_tv=False if declared else None,
        fab_lab=False if declared else None,
        ent=ent if declared else None,
        usages=chosen,
        academie_comparison=Comparison(
            territory="academie:montpellier",
            schools=1240,
            schools_declared=1021,
            teacher_share=75.0,
            pupil_share=48.0,
            robot_school_share=11.0,
            ent_school_share=52.0,
            index_distribution={"0": 12.5, "1": 30.0, "2": 35.5, "3": 22.0},
            usages_declared=9512,
        ),
        label=sample_label(label_level),
        evolution=[
            YearPoint(2023, "2023-2024", 2, classes, teacher - 2, pupil - 3, usages - 2),
            YearPoint(2024, "2024-2025", index, classes, teacher, pupil, usages),
        ],
    )


def sample_label(level: int | None) -> SchoolLabel:
    """The label standing of a school holding `level` (None: no award) this school year."""
    domains = ("EQUIPEMENT", "USAGES", "ENT", "FORMATION", "PILOTAGE")
    return SchoolLabel(
        level=level,
        awarded_in="2024-2025" if level else None,
        valid_until="2025-2026" if level else None,
        expires_on=date(2026, 8, 31) if level else None,
        global_level=level or 1,
        domain_levels={d: (level or 1) + (n % 2) for n, d in enumerate(domains)},
        referentiel_version="2024-1",
        commune=CommuneSignature(
            name="Montpellier", signatory="Marie Dupont", office="adjointe au numérique"
        )
        if level
        else None,
        local=None,
        academie=LabelDistribution(
            territory="academie:montpellier",
            schools=1240,
            labelled=360,
            labelled_share=29.03,
            level_distribution={"1": 40.0, "2": 25.0, "3": 35.0},
            current_levels={"0": 55.0, "1": 20.0, "2": 15.0, "3": 10.0},
            domain_averages={"2024-1": {d: 1.2 for d in domains}},
        ),
    )
