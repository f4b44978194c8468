from datetime import UTC, datetime


def utcnow() -> datetime:
    """Naive UTC: what every DateTime column stores; shown in the institution's zone."""
    return datetime.now(UTC).replace(tzinfo=None)
