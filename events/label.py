"""Events of the label service (the label numérique workflow)."""

from __future__ import annotations

from events.envelope import Event

SERVICE = "label"

LABEL_EVENTS: tuple[type[Event], ...] = ()
