"""The PDF profile, rendered from profiles built in memory: two A4 pages, the seed's French
wording, the school's figures beside the académie's, what is printed when data is missing, and
the fields the profile may carry later."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import msgspec
import pytest
from pypdf import PdfReader

from services.reporting.ent_gar import EntDistribution, SchoolEnt
from services.reporting.pdf import render_profile_pdf
from services.reporting.pdf.fonts import printable
from services.reporting.pdf.sample import USAGES, sample_profile
from services.reporting.pdf.view import integer, of, percent, profile_view
from services.reporting.school_profile import SchoolProfile, Usage
from tests.pdf.pdftext import page_count, pages_text


def ent_of(index: int, explanation: str = "", next_step: str | None = None) -> SchoolEnt:
    return SchoolEnt(
        uai="0340001S", school_year="2024-2025", rentree=2024, index=index,
        explanation=explanation or f"L'indice ENT de l'école pour l'année scolaire 2024-2025 est {index} sur 3.",
        next_step=next_step, rule_since=2018, periods_reached=index, connections=1000, periods=[],
    )  # fmt: skip


def with_ent(profile: SchoolProfile, ent: SchoolEnt) -> SchoolProfile:
    distribution = EntDistribution(
        territory="academie:montpellier", school_year="2024-2025", schools_declared=100,
        schools_using_ent=52, using_ent_share=52.0, schools_without_figures=8,
        index_distribution={"0": 15.0, "1": 8.0, "2": 30.0, "3": 47.0},
    )  # fmt: skip
    comparison = msgspec.structs.replace(
        profile.academie_comparison, ent_index_distribution=distribution
    )
    return msgspec.structs.replace(profile, ent_index=ent, academie_comparison=comparison)


def test_a_profile_is_a_two_page_a4_pdf_with_embedded_fonts() -> None:
    pdf = render_profile_pdf(sample_profile())
    assert pdf.startswith(b"%PDF-1.")
    assert pdf.rstrip().endswith(b"%%EOF")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 2
    for page in reader.pages:
        assert round(float(page.mediabox.width)) == 595
        assert round(float(page.mediabox.height)) == 842
    assert reader.metadata is not None
    assert reader.metadata.title == (
        "Profil numérique — École élémentaire Jules Ferry (0340001S) — 2024-2025"
    )
    # Every font is embedded (TrueType subsets): no core font the viewer would substitute.
    assert b"/FontFile2" in pdf
    assert b"/Helvetica" not in pdf


def test_page_one_carries_the_seed_wording_and_the_school_beside_the_academie() -> None:
    page1, _ = pages_text(render_profile_pdf(sample_profile(12, classes=8, teacher=8, pupil=8)))
    for phrase in (
        "PROFIL NUMERIQUE",
        "Numécole",
        "RÉGION ACADÉMIQUE OCCITANIE",
        "École élémentaire Jules Ferry",
        "UAI 0340001S · Montpellier · circonscription 34-C1 · année scolaire 2024-2025",
        "Ce profil a été édité le 25/06/2025 à partir des données disponibles dans le portail "
        "de données NUMÉCOLE. Il peut être actualisé à tout moment par le directeur en se "
        "connectant au profil Numécole.",
        "EQUIPEMENT INDICE 3/3",
        "À quoi correspond l'indice ?",
        "Toutes les classes de l'école disposent d'un équipement pour l'enseignant",
        "Le référentiel ministériel utilisé est le socle numérique de base pour les écoles.",
        "Pour aller plus loin :",
        "Pour l'école (8 classes)",
        "Données de l'académie de Montpellier",
        "Classes avec équipement enseignant 8 (100,00 %) 75,00 %",
        "Classes avec équipement élèves 8 (100,00 %) 48,00 %",
        "Nombre de robots École : 3 Académie : 11,00 % des écoles possèdent au moins un robot.",
        "Web radio : oui",
        "Web TV : non",
        "Fab lab ou makerlab : non",
        "ENT (Indice 2024-2025)",
        "52,00 % d'écoles utilisatrices de l'ENT",
        "LABEL NUMERIQUE NIVEAU 2/3",
        "NB - Le niveau global correspond au plus faible niveau obtenu sur l'un des 5 critères.",
        "USAGES NOMBRE 12",
        "À quoi correspond le nombre d'usages ?",
        "La liste des usages de l'école est disponible page suivante.",
        "9 512 usages déclarés",
        "Page 1/2",
    ):
        assert phrase in page1, phrase


def test_the_school_counts_and_shares_are_printed_the_french_way() -> None:
    page1, _ = pages_text(render_profile_pdf(sample_profile(3, classes=8, teacher=6, pupil=3)))
    assert "INDICE 1/3" in page1
    assert "Classes avec équipement enseignant 6 (75,00 %) 75,00 %" in page1
    assert "Classes avec équipement élèves 3 (37,50 %) 48,00 %" in page1
    assert (
        "Pour aller plus loin : Pour atteindre l'indice 2 : 1 classe de plus avec équipement "
        "pour les élèves." in page1
    )
    assert "USAGES NOMBRE 3" in page1


def test_page_two_lists_the_usages_numbered_with_title_and_summary() -> None:
    _, page2 = pages_text(render_profile_pdf(sample_profile(12)))
    assert "Liste des usages de l'école" in page2
    assert (
        "1. COMMUNICATION AVEC LES FAMILLES Utilisation d'une application pour la "
        "communication avec les familles." in page2
    )
    assert "2. CORRESPONDANCE SCOLAIRE Correspondance avec les outils numériques." in page2
    positions = [page2.index(f"{n}. {u.title.upper()}") for n, u in enumerate(USAGES, start=1)]
    assert positions == sorted(positions)
    assert "7. ÉDUCATION AUX MÉDIAS ET À L'INFORMATION" in page2
    assert "« fausses nouvelles »" in page2
    assert "Page 2/2" in page2


def test_missing_data_is_printed_with_the_seed_wording() -> None:
    profile = msgspec.structs.replace(sample_profile(0, ent=False), label=None)
    page1, page2 = pages_text(render_profile_pdf(profile))
    assert "L'école ne bénéficie pas de l'ENT-école ou a déclaré un autre ENT." in page1
    assert "Répartition par indice : non disponible" in page1
    assert "LABEL NUMERIQUE NIVEAU 0/3" in page1
    assert "Aucun label numérique n'est connu pour l'école à ce jour." in page1
    assert "Écoles labellisées : non disponible Répartition par niveau : non disponible" in page1
    assert "USAGES NOMBRE 0" in page1
    assert "Aucun usage n'a été déclaré par l'école pour l'année scolaire 2024-2025." in page2


def test_the_label_held_and_the_academie_distribution() -> None:
    page1, _ = pages_text(render_profile_pdf(sample_profile(1, label_level=3)))
    assert "LABEL NUMERIQUE NIVEAU 3/3" in page1
    assert (
        "L'école est labellisée au niveau 3 (candidature 2024-2025 présentée avec la commune de "
        "Montpellier, signée par Marie Dupont, adjointe au numérique), label valable jusqu'à la "
        "fin de l'année scolaire 2025-2026." in page1
    )
    assert (
        "29,03 % d'écoles labellisées dont : Niveau 1 : 40,00 % Niveau 2 : 25,00 % "
        "Niveau 3 : 35,00 %" in page1
    )


def test_a_school_without_award_shows_level_0_and_its_board_level() -> None:
    page1, _ = pages_text(render_profile_pdf(sample_profile(1, label_level=None)))
    assert "LABEL NUMERIQUE NIVEAU 0/3" in page1
    assert (
        "L'école ne détient pas de label numérique pour l'année scolaire 2024-2025. Niveau "
        "global atteint à ce jour sur son tableau de bord : 1/3." in page1
    )


def test_a_school_that_has_not_declared_gets_a_profile_without_figures() -> None:
    pdf = render_profile_pdf(sample_profile(0, declared=False))
    assert page_count(pdf) == 2
    page1, _ = pages_text(pdf)
    assert "L'école n'a pas encore déclaré son équipement pour l'année scolaire 2024-2025" in page1
    assert "EQUIPEMENT INDICE –" in page1
    assert "Classes avec équipement enseignant non renseigné 75,00 %" in page1
    assert "Nombre de robots non renseigné" in page1
    assert "Web radio : non renseigné" in page1
    assert "L'école n'a pas encore indiqué si elle utilise l'ENT-école." in page1


def test_answers_carried_from_last_year_are_flagged() -> None:
    profile = sample_profile(2)
    assert profile.declaration is not None
    profile = msgspec.structs.replace(
        profile,
        declaration=msgspec.structs.replace(
            profile.declaration, school_year="2023-2024", carried_forward=True
        ),
    )
    page1, _ = pages_text(render_profile_pdf(profile))
    assert (
        "Les données d'équipement de l'école sont celles déclarées pour 2023-2024 ; elles n'ont "
        "pas encore été confirmées pour 2024-2025." in page1
    )


def test_a_profile_as_it_stood_at_a_past_moment_says_so() -> None:
    profile = msgspec.structs.replace(
        sample_profile(2), as_of=datetime(2024, 8, 31, 21, 59, tzinfo=UTC)
    )
    page1, _ = pages_text(render_profile_pdf(profile))
    assert "Ce profil a été édité le 25/06/2025" in page1
    assert "Situation de l'école telle qu'enregistrée le 31/08/2024." in page1


def test_the_ent_index_is_printed_when_the_profile_carries_it() -> None:
    page1, _ = pages_text(render_profile_pdf(with_ent(sample_profile(12), ent_of(2))))
    assert "ENT (Indice 2024-2025) INDICE 2/3" in page1
    assert "L'indice ENT de l'école pour l'année scolaire 2024-2025 est 2 sur 3." in page1
    assert "indice 1 : 8,00 % indice 2 : 30,00 % indice 3 : 47,00 %" in page1


def test_an_ent_object_with_its_index_explanation_and_next_step_is_printed() -> None:
    ent = ent_of(
        1,
        "1 période sur 2 importées a compté au moins une connexion par élève.",
        "Pour atteindre l'indice 2 : 2 périodes de plus.",
    )
    profile = with_ent(sample_profile(1), ent)
    view = profile_view(profile)
    assert (view.ent_index, view.ent_year, view.uses_ent) == (1, "2024-2025", True)
    page1, _ = pages_text(render_profile_pdf(profile))
    assert "ENT (Indice 2024-2025) INDICE 1/3" in page1
    assert "1 période sur 2 importées a compté au moins une connexion par élève." in page1
    assert "Pour aller plus loin : Pour atteindre l'indice 2 : 2 périodes de plus." in page1


def test_an_ent_index_out_of_range_counts_as_absent() -> None:
    view = profile_view(with_ent(sample_profile(12), ent_of(7)))
    assert view.ent_index is None
    assert view.uses_ent is True  # the school's answer still says it uses the ENT


def test_sixty_usages_and_a_long_name_still_fit_on_two_pages() -> None:
    profile = msgspec.structs.replace(
        sample_profile(60),
        name="École primaire publique d'application Marie Curie et Pierre Curie — groupe "
        "scolaire des Beaux-Arts et des Arceaux",
    )
    pdf = render_profile_pdf(profile)
    assert page_count(pdf) == 2
    page1, page2 = pages_text(pdf)
    assert "USAGES NOMBRE 60" in page1
    for n in (1, 12, 13, 30, 31, 59, 60):
        assert f"{n}. " in page2
    assert "60. USAGE NUMÉRIQUE N° 60" in page2


def test_french_typography_survives_and_undrawable_characters_do_not_show_as_boxes() -> None:
    usage = Usage("CŒUR", "Cœur de l’école « numérique »", "Budget : 500 € — c’est ça, œuvre…")
    profile = msgspec.structs.replace(
        sample_profile(0), name="École de l’Œuf\u202fd’or ✓", usages=[usage]
    )
    page1, page2 = pages_text(render_profile_pdf(profile))
    assert "École de l’Œuf d’or" in page1
    assert "✓" not in page1
    assert "1. CŒUR DE L’ÉCOLE « NUMÉRIQUE » Budget : 500 € — c’est ça, œuvre…" in page2


def test_markup_characters_in_the_data_are_printed_as_they_are() -> None:
    usage = Usage("AMP", "Lire & écrire <en> ligne", "a < b & c > d")
    profile = msgspec.structs.replace(sample_profile(0), usages=[usage])
    _, page2 = pages_text(render_profile_pdf(profile))
    assert "1. LIRE & ÉCRIRE <EN> LIGNE a < b & c > d" in page2


def test_the_date_is_the_day_in_france() -> None:
    late_evening = datetime(2025, 6, 30, 22, 30, tzinfo=UTC)  # 1 July, 00:30 in Paris
    profile = sample_profile(0, produced_at=late_evening)
    page1, _ = pages_text(render_profile_pdf(profile))
    assert "Ce profil a été édité le 01/07/2025" in page1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (75.0, "75,00\u00a0%"),
        (0.0, "0,00\u00a0%"),
        (100.0, "100,00\u00a0%"),
        (33.333, "33,33\u00a0%"),
    ],
)
def test_percent(value: float, expected: str) -> None:
    assert percent(value) == expected


def test_integers_places_and_printable_text() -> None:
    assert integer(9512) == "9\u00a0512"
    assert integer(12) == "12"
    assert of("Montpellier") == "de Montpellier"
    assert of("Orléans-Tours") == "d'Orléans-Tours"
    assert of("Aix-Marseille") == "d'Aix-Marseille"
    assert printable("déjà « vu » – 5 €") == "déjà « vu » – 5 €"
    assert printable("a\u202f;") == "a\u00a0;"
    assert printable("ŷ ✓") == "y "
