"""The look of the profile: page geometry, colours, paragraph styles and the few drawn shapes
(the page band, section titles, the index badges)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_JUSTIFY
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable

from services.reporting.pdf.fonts import BOLD, ITALIC, REGULAR, printable

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 36.0
BAND_HEIGHT = 58.0
BAND_TOP = PAGE_HEIGHT - 28
FRAME_X = MARGIN
FRAME_Y = MARGIN + 22
FRAME_WIDTH = PAGE_WIDTH - 2 * MARGIN
FRAME_HEIGHT = BAND_TOP - BAND_HEIGHT - 14 - FRAME_Y
BADGE_WIDTH = 78.0
GUTTER = 12.0

INK = colors.HexColor("#1E2A3A")
MUTED = colors.HexColor("#5B6675")
PRIMARY = colors.HexColor("#1B3F73")
RULE = colors.HexColor("#C9D2DE")
SHADE = colors.HexColor("#F1F4F8")
WARNING = colors.HexColor("#9A4A00")


@dataclass(frozen=True)
class Theme:
    """A section's colour and the tint behind its figures."""

    strong: colors.Color
    tint: colors.Color


EQUIPMENT = Theme(colors.HexColor("#1B6F8A"), colors.HexColor("#E4F1F5"))
ENT = Theme(colors.HexColor("#B5561B"), colors.HexColor("#FBEDE3"))
LABEL = Theme(colors.HexColor("#6A3D8F"), colors.HexColor("#F0E9F6"))
USAGES = Theme(colors.HexColor("#2E7D4F"), colors.HexColor("#E6F3EB"))


def style(name: str, size: float, **extra: Any) -> ParagraphStyle:
    base: dict[str, Any] = {
        "fontName": REGULAR,
        "fontSize": size,
        "leading": round(size * 1.28, 1),
        "textColor": INK,
    }
    base.update(extra)
    return ParagraphStyle(name, **base)


SCHOOL = style("school", 15, fontName=BOLD, textColor=PRIMARY, leading=18)
IDENTITY = style("identity", 9.5, textColor=INK, spaceBefore=2)
NOTE = style("note", 7.8, textColor=MUTED, alignment=TA_JUSTIFY, spaceBefore=5)
ALERT = style("alert", 8.2, fontName=ITALIC, textColor=WARNING, spaceBefore=4)
BODY = style("body", 8.8)
BODY_SPACED = style("body_spaced", 8.8, spaceBefore=4)
LEAD = style("lead", 8.8, fontName=BOLD, spaceBefore=0, spaceAfter=1)
SMALL = style("small", 8.2, leading=10.6)
SMALL_SPACED = style("small_spaced", 8.2, leading=10.6, spaceBefore=4)
CELL = style("cell", 8.4, leading=10.4)
CELL_HEAD = style("cell_head", 8.4, leading=10.4, fontName=BOLD)
ACADEMIE_HEAD = style("academie_head", 8.2, fontName=BOLD, leading=10.6, spaceAfter=2)
LINK = style("link", 7.6, leading=9.8, spaceBefore=4)
SCHOOL_SMALL = style("school_small", 12, fontName=BOLD, textColor=PRIMARY, leading=15)


def text(value: str) -> str:
    """Data for a paragraph: only drawable characters, and markup characters escaped."""
    return escape(printable(value))


class SectionTitle(Flowable):
    """A coloured bar across the frame with the section's name in white capitals."""

    def __init__(self, title: str, theme: Theme, space_before: float = 10.0) -> None:
        super().__init__()
        self.title = title
        self.theme = theme
        self.height = 17.0
        self.spaceBefore = space_before
        self.spaceAfter = 6.0

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        # As wide as the tables beside it, also when a shrinking page offers more room.
        self.width = min(available_width, FRAME_WIDTH)
        return self.width, self.height

    def draw(self) -> None:
        c: Canvas = self.canv
        c.setFillColor(self.theme.strong)
        c.roundRect(0, 0, self.width, self.height, 3, stroke=0, fill=1)
        c.setFillColor(colors.white)
        c.setFont(BOLD, 10)
        c.drawString(8, 5, self.title)


class Badge(Flowable):
    """The box of a section's headline figure: a caption ("INDICE") over the value ("3/3")."""

    def __init__(self, caption: str, value: str, theme: Theme, height: float = 62.0) -> None:
        super().__init__()
        self.caption = caption
        self.value = value
        self.theme = theme
        self.width = BADGE_WIDTH
        self.height = height

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        c: Canvas = self.canv
        c.setFillColor(self.theme.tint)
        c.setStrokeColor(self.theme.strong)
        c.setLineWidth(1.2)
        c.roundRect(0, 0, self.width, self.height, 6, stroke=1, fill=1)
        c.setFillColor(self.theme.strong)
        c.setFont(BOLD, 8)
        c.drawCentredString(self.width / 2, self.height - 15, self.caption)
        size = 24 if len(self.value) <= 4 else 18
        c.setFont(BOLD, size)
        c.drawCentredString(self.width / 2, self.height / 2 - size / 2 - 2, self.value)


def fitted(line: str, font: str, size: float, width: float) -> str:
    """`line`, cut with an ellipsis when it is wider than `width`."""
    if stringWidth(line, font, size) <= width:
        return line
    while line and stringWidth(line + "…", font, size) > width:
        line = line[:-1]
    return line.rstrip() + "…"


@dataclass(frozen=True)
class Decoration:
    """What every page carries: the band at the top and the footer."""

    region: str
    academie: str
    footer: str
    pages: int

    def __call__(self, c: Canvas, _doc: object) -> None:
        c.saveState()
        top = BAND_TOP
        c.setFillColor(PRIMARY)
        c.roundRect(MARGIN, top - BAND_HEIGHT, FRAME_WIDTH, BAND_HEIGHT, 5, stroke=0, fill=1)
        c.setFillColor(colors.white)
        c.setFont(BOLD, 19)
        c.drawString(MARGIN + 14, top - 27, "PROFIL NUMERIQUE")
        c.setFont(REGULAR, 12)
        c.drawString(MARGIN + 14, top - 45, "Numécole")
        right = MARGIN + FRAME_WIDTH - 14
        c.setFont(BOLD, 9)
        c.drawRightString(right, top - 24, printable(f"RÉGION ACADÉMIQUE {self.region.upper()}"))
        c.setFont(REGULAR, 9)
        c.drawRightString(right, top - 38, printable(f"Académie {self.academie}"))
        c.setStrokeColor(RULE)
        c.setLineWidth(0.6)
        c.line(MARGIN, MARGIN + 14, MARGIN + FRAME_WIDTH, MARGIN + 14)
        c.setFillColor(MUTED)
        c.setFont(REGULAR, 7.5)
        page = f"Page {c.getPageNumber()}/{self.pages}"
        c.drawRightString(MARGIN + FRAME_WIDTH, MARGIN + 4, page)
        room = FRAME_WIDTH - stringWidth(page, REGULAR, 7.5) - 18
        c.drawString(MARGIN, MARGIN + 4, fitted(printable(self.footer), REGULAR, 7.5, room))
        c.restoreState()
