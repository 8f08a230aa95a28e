"""The school profile as a two-page A4 PDF, in French, as the académie's "PROFIL NUMERIQUE
Numécole": page 1 the equipment, ENT, label and usages figures beside the académie's, page 2 the
list of the school's usages.

Each page is laid out in a frame of its own and shrunk to fit when its content would overflow
(a long list of usages first goes to two columns and smaller type), so the document always has
exactly two pages.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from typing import Any

from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepInFrame,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from events.ent import NO_INDEX
from services.reporting.pdf.fonts import BOLD, REGULAR
from services.reporting.pdf.layout import (
    ACADEMIE_HEAD,
    ALERT,
    BADGE_WIDTH,
    BODY,
    BODY_SPACED,
    CELL,
    CELL_HEAD,
    ENT,
    EQUIPMENT,
    FRAME_HEIGHT,
    FRAME_WIDTH,
    FRAME_X,
    FRAME_Y,
    GUTTER,
    IDENTITY,
    LABEL,
    LEAD,
    LINK,
    NOTE,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    RULE,
    SCHOOL,
    SCHOOL_SMALL,
    SHADE,
    SMALL,
    SMALL_SPACED,
    USAGES,
    Badge,
    Decoration,
    SectionTitle,
    style,
    text,
)
from services.reporting.pdf.view import (
    NBSP,
    ProfileView,
    UsageView,
    integer,
    of,
    percent,
    profile_view,
    yes_no,
)
from services.reporting.school_profile import SchoolProfile

PAGES = 2
LABEL_URL = (
    "https://numecole.region-academique-occitanie.fr/label-numerique/label-numerique-occitanie"
)
# A TableStyle command: name, first cell, last cell, values.
Command = tuple[str, tuple[int, int], tuple[int, int], *tuple[Any, ...]]
ACADEMIE_WIDTH = 176.0  # the shaded column of the académie's figures
# reportlab does not promise thread safety (a registered font keeps each document's subset in
# the shared font object); a render is CPU-bound under the GIL anyway, so rendering one at a
# time costs no throughput and rules out interference between the server's threads.
_LOCK = threading.Lock()


def render_profile_pdf(profile: SchoolProfile) -> bytes:
    """The two-page PDF of `profile`."""
    return render_view(profile_view(profile))


def render_view(view: ProfileView) -> bytes:
    buffer = io.BytesIO()
    doc = BaseDocTemplate(
        buffer,
        pagesize=(PAGE_WIDTH, PAGE_HEIGHT),
        title=f"Profil numérique — {view.name} ({view.uai}) — {view.school_year}",
        author="Numécole",
        subject="Profil numérique de l'école",
        creator="Numécole",
        lang="fr-FR",
        initialFontName=REGULAR,
        pageCompression=1,
    )
    frame = Frame(
        FRAME_X, FRAME_Y, FRAME_WIDTH, FRAME_HEIGHT,
        leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0, id="content",
    )  # fmt: skip
    decoration = Decoration(
        region=view.region,
        academie=of(view.academie),
        footer=f"Numécole — UAI {view.uai} — année scolaire {view.school_year} — {view.name}",
        pages=PAGES,
    )
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=decoration)])
    story: list[Flowable] = [
        KeepInFrame(FRAME_WIDTH, FRAME_HEIGHT, first_page(view), mode="shrink"),
        PageBreak(),
        KeepInFrame(FRAME_WIDTH, FRAME_HEIGHT, second_page(view), mode="shrink"),
    ]
    with _LOCK:
        doc.build(story)
    return buffer.getvalue()


# -------------------------------------------------------------------------------- building blocks


def p(markup: str, st: ParagraphStyle = BODY) -> Paragraph:
    return Paragraph(markup, st)


def _grid(rows: list[list[Any]], widths: Sequence[float], commands: Sequence[Command]) -> Table:
    table = Table(rows, colWidths=list(widths), hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("FONTNAME", (0, 0), (-1, -1), REGULAR),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
                *commands,
            ]
        )
    )
    return table


def badge_row(badge: Badge, school: list[Flowable], academie: list[Flowable] | None) -> Table:
    """The badge, the school's text and, when given, the académie's figures in a shaded box."""
    if academie is None:
        middle = FRAME_WIDTH - BADGE_WIDTH
        return _grid(
            [[badge, school]], [BADGE_WIDTH, middle], [("LEFTPADDING", (1, 0), (1, 0), GUTTER)]
        )
    middle = FRAME_WIDTH - BADGE_WIDTH - ACADEMIE_WIDTH
    return _grid(
        [[badge, school, academie]],
        [BADGE_WIDTH, middle, ACADEMIE_WIDTH],
        [
            ("LEFTPADDING", (1, 0), (1, 0), GUTTER),
            ("RIGHTPADDING", (1, 0), (1, 0), GUTTER),
            ("BACKGROUND", (2, 0), (2, 0), SHADE),
            ("LEFTPADDING", (2, 0), (2, 0), 8),
            ("RIGHTPADDING", (2, 0), (2, 0), 6),
            ("TOPPADDING", (2, 0), (2, 0), 6),
            ("BOTTOMPADDING", (2, 0), (2, 0), 7),
        ],
    )


def academie_block(view: ProfileView, lines: list[str]) -> list[Flowable]:
    head = p(f"Données de l'académie {text(of(view.academie))} :", ACADEMIE_HEAD)
    return [head, *(p(line, SMALL) for line in lines)]


def classes(n: int) -> str:
    return f"{n}{NBSP}classe{'s' if n > 1 else ''}"


def fraction(index: int | None) -> str:
    return f"{index}/3" if index is not None else "–"


# -------------------------------------------------------------------------------- page 1


def first_page(view: ProfileView) -> list[Flowable]:
    story: list[Flowable] = [p(text(view.name), SCHOOL), p(identity(view), IDENTITY)]
    story.append(
        p(
            f"Ce profil a été édité le {view.produced_on} à partir des données disponibles dans "
            "le portail de données NUMÉCOLE. Il peut être actualisé à tout moment par le "
            "directeur en se connectant au profil Numécole. Des données complémentaires et des "
            "représentations graphiques sont également disponibles en se connectant au profil "
            "Numécole.",
            NOTE,
        )
    )
    if view.as_of_on is not None:
        story.append(p(f"Situation de l'école telle qu'enregistrée le {view.as_of_on}.", ALERT))
    if note := declaration_note(view):
        story.append(p(note, ALERT))
    story += equipment_section(view)
    story += ent_section(view)
    story += label_section(view)
    story += usages_section(view)
    return story


def identity(view: ProfileView) -> str:
    parts = [f"UAI <b>{text(view.uai)}</b>", text(view.commune)]
    if view.circonscription:
        parts.append(f"circonscription {text(view.circonscription)}")
    parts.append(f"année scolaire <b>{text(view.school_year)}</b>")
    return " · ".join(parts)


def declaration_note(view: ProfileView) -> str | None:
    if view.declared_year is None:
        return (
            f"L'école n'a pas encore déclaré son équipement pour l'année scolaire "
            f"{text(view.school_year)} : ses données d'équipement ne figurent pas dans ce profil."
        )
    if view.carried_forward:
        return (
            f"Les données d'équipement de l'école sont celles déclarées pour "
            f"{text(view.declared_year)} ; elles n'ont pas encore été confirmées pour "
            f"{text(view.school_year)}."
        )
    return None


def equipment_section(view: ProfileView) -> list[Flowable]:
    eq = view.equipment
    explain: list[Flowable] = [p("À quoi correspond l'indice ?", LEAD)]
    if eq is None:
        explain.append(
            p("L'indice ne peut pas être calculé tant que l'école n'a pas déclaré son équipement.")
        )
    else:
        explain.append(p(text(eq.explanation)))
    explain.append(
        p(
            "Le référentiel ministériel utilisé est le socle numérique de base pour les écoles. "
            "Il est atteint lorsque toutes les classes de l'école sont équipées pour les "
            "enseignants et les élèves.",
            BODY_SPACED,
        )
    )
    if eq is not None:
        step = (
            text(eq.next_step)
            if eq.next_step
            else "le socle numérique de base est atteint dans toutes les classes de l'école."
        )
        explain.append(p(f"<b>Pour aller plus loin :</b> {step}", BODY_SPACED))

    missing, unknown = "non renseigné", "non disponible"

    def academie_share(share: float | None) -> str:
        return percent(share) if share is not None else unknown

    robot_share = (
        f"{percent(view.academie_robot_share)} des écoles possèdent au moins un robot."
        if view.academie_robot_share is not None
        else unknown
    )
    rows: list[list[Any]] = [
        [
            "",
            p(f"Pour l'école ({classes(eq.classes)})" if eq else "Pour l'école", CELL_HEAD),
            p(f"Données de l'académie {text(of(view.academie))}", CELL_HEAD),
        ],
        [
            p("Classes avec équipement enseignant", CELL),
            p(f"{eq.teacher_classes} ({percent(eq.teacher_share)})" if eq else missing, CELL),
            p(academie_share(view.academie_teacher_share), CELL),
        ],
        [
            p("Classes avec équipement élèves", CELL),
            p(f"{eq.pupil_classes} ({percent(eq.pupil_share)})" if eq else missing, CELL),
            p(academie_share(view.academie_pupil_share), CELL),
        ],
        [
            p("Nombre de robots", CELL),
            p(f"École : {view.robots}" if view.robots is not None else missing, CELL),
            p(f"Académie : {robot_share}", CELL),
        ],
    ]
    widths = [170.0, 140.0, FRAME_WIDTH - 310.0]
    table = Table(rows, colWidths=widths, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("FONTNAME", (0, 0), (-1, -1), REGULAR),
                ("BACKGROUND", (0, 0), (-1, 0), EQUIPMENT.tint),
                ("BACKGROUND", (2, 1), (2, -1), SHADE),
                ("LINEBELOW", (0, 0), (-1, -1), 0.5, RULE),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
                ("TOPPADDING", (0, 0), (-1, -1), 3.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3.5),
            ]
        )
    )
    facilities = (
        f"<b>Web radio :</b> {yes_no(view.web_radio)}{NBSP * 3}·{NBSP * 3}"
        f"<b>Web TV :</b> {yes_no(view.web_tv)}{NBSP * 3}·{NBSP * 3}"
        f"<b>Fab lab ou makerlab :</b> {yes_no(view.fab_lab)}"
    )
    return [
        SectionTitle("EQUIPEMENT", EQUIPMENT, space_before=8),
        badge_row(Badge("INDICE", fraction(eq.index if eq else None), EQUIPMENT), explain, None),
        Spacer(1, 7),
        table,
        p(facilities, SMALL_SPACED),
    ]


def ent_section(view: ProfileView) -> list[Flowable]:
    school: list[Flowable] = []
    if view.ent_index is not None:
        school.append(
            p(
                f"L'indice ENT de l'école pour l'année scolaire {text(view.ent_year)} est "
                f"<b>{view.ent_index} sur 3</b>."
            )
        )
        if view.ent_explanation:
            school.append(p(text(view.ent_explanation), BODY_SPACED))
        if view.ent_next_step:
            school.append(
                p(f"<b>Pour aller plus loin :</b> {text(view.ent_next_step)}", BODY_SPACED)
            )
    elif view.uses_ent:
        school.append(
            p(
                "L'école déclare utiliser l'ENT-école. Son indice ENT annuel n'est pas encore "
                "disponible : la région académique met à jour les connexions à l'issue de "
                "chacune des 5 périodes et indique l'indice ENT annuel en janvier."
            )
        )
    elif view.uses_ent is False:
        school.append(p(NO_INDEX))
    else:
        school.append(p("L'école n'a pas encore indiqué si elle utilise l'ENT-école."))
    lines = [
        f"{percent(view.academie_ent_share)} d'écoles utilisatrices de l'ENT"
        if view.academie_ent_share is not None
        else "Écoles utilisatrices de l'ENT : non disponible"
    ]
    if view.academie_ent_indices is not None:
        lines += [f"indice {i} : {percent(s)}" for i, s in view.academie_ent_indices.items()]
    else:
        lines.append("Répartition par indice : non disponible")
    return [
        SectionTitle(f"ENT (Indice {text(view.ent_year)})", ENT),
        badge_row(
            Badge("INDICE", fraction(view.ent_index), ENT, height=56),
            school,
            academie_block(view, lines),
        ),
    ]


def label_sentence(view: ProfileView) -> str:
    level = view.label_level
    if not view.label_known:
        return "Aucun label numérique n'est connu pour l'école à ce jour."
    if level is None or level == 0:
        sentence = (
            "L'école ne détient pas de label numérique pour l'année scolaire "
            f"{text(view.school_year)}."
        )
    else:
        sentence = f"L'école est labellisée au niveau <b>{level}</b>"
        if view.label_year:
            commune = view.label_commune
            with_commune = f" présentée avec la commune de {text(commune)}" if commune else ""
            sentence += f" (candidature {text(view.label_year)}{with_commune})"
        if view.label_valid_until:
            sentence += (
                f", label valable jusqu'à la fin de l'année scolaire {text(view.label_valid_until)}"
            )
        sentence += "."
    if view.board_level and view.board_level != level:
        sentence += (
            f" Niveau global atteint à ce jour sur son tableau de bord : {view.board_level}/3."
        )
    return sentence


def label_section(view: ProfileView) -> list[Flowable]:
    if view.academie_label_share is not None:
        lines = [f"{percent(view.academie_label_share)} d'écoles labellisées dont :"]
    else:
        lines = ["Écoles labellisées : non disponible"]
    if view.academie_label_levels is not None:
        lines += [f"Niveau {n} : {percent(s)}" for n, s in view.academie_label_levels.items()]
    else:
        lines.append("Répartition par niveau : non disponible")
    school_text: list[Flowable] = [
        p(label_sentence(view)),
        p(
            "NB - Le niveau global correspond au plus faible niveau obtenu sur l'un des 5 "
            "critères.",
            BODY_SPACED,
        ),
        p(
            "Les informations concernant la labellisation sont sur le site Numécole à cette "
            f'adresse : <link href="{LABEL_URL}" color="#1B3F73">{LABEL_URL}</link>',
            LINK,
        ),
    ]
    return [
        SectionTitle("LABEL NUMERIQUE", LABEL),
        badge_row(
            Badge("NIVEAU", fraction(view.label_level or 0), LABEL),
            school_text,
            academie_block(view, lines),
        ),
    ]


def usages_section(view: ProfileView) -> list[Flowable]:
    school: list[Flowable] = [
        p("À quoi correspond le nombre d'usages ?", LEAD),
        p(
            "Les usages peuvent être déclarés en continu par les écoles parmi une liste proposée "
            "par l'académie qui est consultable sur Numécole. La liste des usages de l'école est "
            "disponible page suivante."
        ),
    ]
    lines = [f"{integer(view.academie_usages)} usages déclarés"]
    return [
        SectionTitle("USAGES", USAGES),
        badge_row(
            Badge("NOMBRE", str(len(view.usages)), USAGES, height=56),
            school,
            academie_block(view, lines),
        ),
    ]


# -------------------------------------------------------------------------------- page 2

# (columns, type size) tried in turn until the list fits the page.
LIST_LAYOUTS = ((1, 9.5), (1, 8.5), (2, 8.5), (2, 7.6), (3, 7.4), (3, 6.8))
COLUMN_GAP = 16.0
# Line heights of a usage's title and summary, and the space before it, in type sizes.
TITLE_LEADING, SUMMARY_LEADING, TITLE_SPACE = 1.25, 1.22, 0.7


def second_page(view: ProfileView) -> list[Flowable]:
    head: list[Flowable] = [
        p(text(view.name), SCHOOL_SMALL),
        p(identity(view), IDENTITY),
        SectionTitle("Liste des usages de l'école", USAGES, space_before=10),
    ]
    if not view.usages:
        return [
            *head,
            p(
                "Aucun usage n'a été déclaré par l'école pour l'année scolaire "
                f"{text(view.school_year)}. Les usages peuvent être déclarés à tout moment sur "
                "Numécole."
            ),
        ]
    available = FRAME_HEIGHT - sum(_height(f, FRAME_WIDTH) for f in head) - 4
    # Beyond the smallest layout, the list alone shrinks (the heading keeps its size).
    fitted = KeepInFrame(
        FRAME_WIDTH, available, [usage_list(view.usages, available)], mode="shrink", hAlign="LEFT"
    )
    return [*head, fitted]


def _height(flowable: Flowable, width: float) -> float:
    _, h = flowable.wrap(width, FRAME_HEIGHT)
    return float(h) + flowable.getSpaceBefore() + flowable.getSpaceAfter()


def usage_items(usages: Sequence[UsageView], size: float) -> list[list[Flowable]]:
    title = style(
        f"usage_title_{size}",
        size,
        fontName=BOLD,
        leading=size * TITLE_LEADING,
        spaceBefore=size * TITLE_SPACE,
    )
    summary = style(
        f"usage_summary_{size}",
        size * 0.95,
        leading=size * SUMMARY_LEADING,
        leftIndent=size * 1.4,
    )
    items = []
    for n, usage in enumerate(usages, start=1):
        item: list[Flowable] = [p(f"{n}. {text(usage.title.upper())}", title)]
        if usage.summary.strip():
            item.append(p(text(usage.summary), summary))
        items.append(item)
    return items


def usage_list(usages: Sequence[UsageView], available: float) -> Flowable:
    """The numbered list in the first layout of `LIST_LAYOUTS` that fits `available` points."""
    lines = sum(
        TITLE_SPACE + TITLE_LEADING + (SUMMARY_LEADING if u.summary.strip() else 0.0)
        for u in usages
    )
    for columns, size in LIST_LAYOUTS:
        last = (columns, size) == LIST_LAYOUTS[-1]
        # Every item takes at least a title line (and a summary line): skip what cannot fit.
        if not last and lines * size / columns > available:
            continue
        width = (FRAME_WIDTH - COLUMN_GAP * (columns - 1)) / columns
        items = usage_items(usages, size)
        heights = [sum(_height(f, width) for f in item) for item in items]
        cuts = _balanced_cuts(heights, columns)
        tallest = max(sum(heights[a:b]) for a, b in cuts)
        if tallest <= available or last:
            break
    cells = [[f for item in items[a:b] for f in item] for a, b in cuts]
    widths = [width + COLUMN_GAP] * (columns - 1) + [width]
    padding = [("RIGHTPADDING", (0, 0), (columns - 2, 0), COLUMN_GAP)] if columns > 1 else []
    return _grid([cells], widths, padding)


def _balanced_cuts(heights: Sequence[float], columns: int) -> list[tuple[int, int]]:
    """The list cut in `columns` runs, in order, so that the tallest is as short as can be: the
    smallest column height that fits, found by bisection over greedy filling."""
    if columns == 1:
        return [(0, len(heights))]

    def fill(limit: float) -> list[tuple[int, int]] | None:
        cuts, start, running = [], 0, 0.0
        for k, h in enumerate(heights):
            if running + h > limit and k > start:
                cuts.append((start, k))
                start, running = k, 0.0
            running += h
        cuts.append((start, len(heights)))
        if len(cuts) > columns:
            return None
        return cuts + [(len(heights), len(heights))] * (columns - len(cuts))

    low, high = max(heights, default=0.0), sum(heights)
    best = fill(high)
    for _ in range(30):
        if high - low < 0.5:
            break
        middle = (low + high) / 2
        cuts = fill(middle)
        if cuts is None:
            low = middle
        else:
            best, high = cuts, middle
    assert best is not None
    return best
