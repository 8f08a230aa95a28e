"""The published event contract: every service imports it, it imports no service."""

from events.codec import ALL_EVENTS, EVENT_TYPES, EventDecodeError, decode, encode
from events.envelope import Actor, Event
from events.subjects import school_subjects, subject_for

__all__ = [
    "ALL_EVENTS",
    "EVENT_TYPES",
    "Actor",
    "Event",
    "EventDecodeError",
    "decode",
    "encode",
    "school_subjects",
    "subject_for",
]
