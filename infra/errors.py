"""Errors the use cases raise; the HTTP layer turns each into its status and French message."""

from __future__ import annotations

import msgspec


class FieldError(msgspec.Struct, frozen=True, omit_defaults=True):
    field: str
    message: str  # French, for the person who typed the value
    line: int | None = None  # in an imported file


class InvalidInput(Exception):
    """Every broken rule of one request (422)."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


class NotFound(Exception):
    """404, with a French message."""


class Conflict(Exception):
    """409: the state of the record forbids this now, with a French message."""


class Forbidden(Exception):
    """403: outside one's role or scope, with a French message."""
