"""Which moment a read is about: `as_of` (a date or a datetime) and `school_year` (as it ended)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from events.values import parse_school_year
from infra.errors import FieldError, InvalidInput

PARIS = ZoneInfo("Europe/Paris")


# The ends of the calendar the database and the wire can hold, with a day to spare for the
# arithmetic of a read (a moment before any record, or one in the future).
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def parse_as_of(value: str) -> datetime:
    """`2024-08-31` is the end of that day in Paris; a datetime without zone is Paris time."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1), time(), PARIS) - timedelta(
                microseconds=1
            )
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            [
                FieldError(
                    "as_of",
                    f"Date invalide : « {value} » (attendu 2024-08-31 ou 2024-08-31T18:00:00).",
                )
            ]
        ) from None
    except OverflowError:  # the last day of year 9999: the end of it is beyond any calendar
        return LATEST
    moment = moment if moment.tzinfo else moment.replace(tzinfo=PARIS)
    try:
        moment.astimezone(UTC)
    except OverflowError:  # year 1 east of Greenwich or year 9999 west of it: out of range
        return EARLIEST if moment.year == 1 else LATEST
    return moment


def end_of_school_year(school_year: str) -> datetime:
    """The last moment of 31 August, Paris time."""
    rentree = parse_school_year(school_year)
    return parse_as_of(f"{rentree + 1}-08-31")


def moment_of(as_of: str | None, school_year: str | None, now: datetime | None = None) -> datetime:
    """The moment a read answers for: `as_of` when given, else the end of `school_year` when it
    has ended, else now. A moment in the future is refused."""
    current = now or datetime.now(UTC)
    if as_of is not None:
        at = parse_as_of(as_of)
        today = current.astimezone(PARIS).date()
        if len(as_of) == 10 and date.fromisoformat(as_of) == today:
            return current  # today so far
        if at > current + timedelta(seconds=5):
            raise InvalidInput(
                [
                    FieldError(
                        "as_of",
                        "La date demandée est dans le futur : l'historique s'arrête à maintenant.",
                    )
                ]
            )
        return min(at, current)
    if school_year is not None:
        return min(end_of_school_year(school_year), current)
    return current
