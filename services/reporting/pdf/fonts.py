"""The fonts of the PDF: Bitstream Vera, the TrueType family shipped inside the reportlab wheel
(free licence, see reportlab/fonts/bitstream-vera-license.txt), embedded as subsets.

Vera covers French completely (é à ç œ Œ « » ’ € … – —, the non-breaking space), unlike the
cp1252-only core fonts it also reads the same on every viewer. What it cannot draw (a narrow
no-break space, an emoji, another script) goes through `printable` first: a close equivalent,
the letter without its accent, or nothing rather than a blank box.
"""

from __future__ import annotations

import unicodedata

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

REGULAR = "NumecoleSans"
BOLD = "NumecoleSans-Bold"
ITALIC = "NumecoleSans-Italic"
BOLD_ITALIC = "NumecoleSans-BoldItalic"

_FILES = {REGULAR: "Vera.ttf", BOLD: "VeraBd.ttf", ITALIC: "VeraIt.ttf", BOLD_ITALIC: "VeraBI.ttf"}

# Equivalents for characters Vera lacks that French text meets.
_SUBSTITUTES = {
    "\u202f": "\u00a0",  # narrow no-break space (before ; : ! ? %) -> no-break space
    "\u2007": "\u00a0",  # figure space
    "\u2009": " ",  # thin space
    "\u200b": "",  # zero-width space
    "\u2010": "-",
    "\u2011": "-",  # non-breaking hyphen
    "\u2212": "-",  # minus sign
    "\u2032": "'",
    "\u2033": '"',
}


def _register() -> frozenset[int]:
    """Registers the family once; returns the code points every style of it can draw."""
    covered: set[int] | None = None
    for name, filename in _FILES.items():
        font = TTFont(name, filename)
        pdfmetrics.registerFont(font)
        cmap = set(font.face.charToGlyph)
        covered = cmap if covered is None else covered & cmap
    addMapping(REGULAR, 0, 0, REGULAR)
    addMapping(REGULAR, 1, 0, BOLD)
    addMapping(REGULAR, 0, 1, ITALIC)
    addMapping(REGULAR, 1, 1, BOLD_ITALIC)
    return frozenset(covered or ())


COVERED = _register()


def _replacement(char: str) -> str:
    if char in _SUBSTITUTES:
        return _SUBSTITUTES[char]
    if char.isspace():
        return " "
    base = "".join(
        c
        for c in unicodedata.normalize("NFKD", char)
        if ord(c) in COVERED and not unicodedata.combining(c)
    )
    if base:
        return base
    # A letter or digit lost is marked; a symbol (emoji, dingbat) or a control is left out.
    return "?" if unicodedata.category(char)[0] in "LN" else ""


def printable(text: str) -> str:
    """`text` with only characters the embedded font can draw."""
    if all(ord(c) in COVERED for c in text):
        return text
    return "".join(c if ord(c) in COVERED else _replacement(c) for c in text)
