"""Text that people type or that files carry: the characters no field may hold.

PostgreSQL cannot store U+0000 in text or JSON, and the other control characters are noise
that no one types and that breaks CSV exports and PDFs; tabs and line breaks are text."""

from __future__ import annotations

import re

from infra.errors import FieldError

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_character(text: str) -> str | None:
    """The first control character of `text` other than a tab or a line break, if any."""
    found = _CONTROL.search(text)
    return found.group() if found else None


def control_error(field: str, text: str, line: int | None = None) -> FieldError | None:
    """A French sentence about the control character in `text`, if it holds one."""
    c = control_character(text)
    if c is None:
        return None
    return FieldError(
        field, f"Le texte contient un caractère de contrôle (U+{ord(c):04X}) : retirez-le.", line
    )
