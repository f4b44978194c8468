from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

# Set only by the demo, to write a history that happened on past dates through the same
# services (audit chain included) as live use.
# Ids are INTEGER columns (32-bit on PostgreSQL): no row has a larger one, and a larger
# number reaching a query overflows instead of finding nothing.
MAX_ID = 2**31 - 1

_clock: ContextVar[datetime | None] = ContextVar("aksi_clock", default=None)


def utcnow() -> datetime:
    """Naive UTC: what every DateTime column stores; shown in the institution's zone."""
    return _clock.get() or datetime.now(UTC).replace(tzinfo=None)


@contextmanager
def clock_at(moment: datetime) -> Iterator[None]:
    """Within the block, "now" is `moment` (naive UTC) for everything that asks utcnow()."""
    token = _clock.set(moment)
    try:
        yield
    finally:
        _clock.reset(token)
