"""NATS subjects: `<root>.<service>.<uai>.<EventType>`, `_` standing for académie-level facts."""

from __future__ import annotations

from events.envelope import Event

DEFAULT_ROOT = "numecole"
NO_SCHOOL = "_"


def subject_for(service: str, event: Event, root: str = DEFAULT_ROOT) -> str:
    return f"{root}.{service}.{event.uai or NO_SCHOOL}.{event.type_name()}"


def all_subjects(root: str = DEFAULT_ROOT) -> str:
    return f"{root}.>"


def school_subjects(uai: str, root: str = DEFAULT_ROOT) -> str:
    """Every event of one school, from any service."""
    return f"{root}.*.{uai}.>"
