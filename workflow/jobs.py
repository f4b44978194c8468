"""Background jobs: huey (a maintained task queue: consumer, retries, schedules, periodic
tasks) with its storage in the app's own database (SQLite or PostgreSQL).

Why the database and not Redis: every web and worker process on every node already shares
it, a backup holds the queue, and there is nothing more to run. PostgreSQL hands each job to
one worker (`FOR UPDATE SKIP LOCKED`); SQLite serialises writers, and `DELETE … RETURNING`
takes a job in one statement there too.

Two modes (AKSI_JOBS):
- "queue" (production): the web process only enqueues; `flask aksi worker` runs the jobs
  and the periodic ones (reminders, mail and thumbnail catch-up).
- "inline" (development and tests): a job runs in the process that enqueues it, at once.

A job runs in an app context of its own (its own session), in either mode. Jobs that follow
a change are enqueued only once the change is committed (`after_commit`), so a job never
acts on a change that was rolled back; each job re-reads the database, so running it twice
does no harm, and the periodic catch-up finds work whose job was lost in a crash.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from flask import Flask, g, has_app_context
from huey import Huey
from huey.constants import EmptyData
from huey.storage import BaseStorage
from sqlalchemy import delete, event, exists, func, insert, select
from sqlalchemy.orm import Session

from .extensions import db
from .models.jobs import job_data, job_schedule, job_tasks

log = logging.getLogger("aksi.jobs")
MODES = ("inline", "queue")


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


class DatabaseStorage(BaseStorage):
    """huey's storage interface over SQLAlchemy Core, on the app's engine."""

    def __init__(self, name: str = "aksi", app: Flask | None = None, **kwargs):
        super().__init__(name)
        self.app = app
        self._engine = None

    @property
    def engine(self):
        if self._engine is None:
            with self.app.app_context():
                self._engine = db.engine
        return self._engine

    def _insert(self, table):
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        return dialect_insert(table)

    def _write(self, statement) -> None:
        with self.engine.begin() as conn:
            conn.execute(statement)

    # -- the queue ----------------------------------------------------------------------

    def enqueue(self, data: bytes, priority: float | None = None) -> None:
        self._write(insert(job_tasks).values(queue=self.name, data=data, priority=priority or 0))

    def dequeue(self) -> bytes | None:
        nxt = (
            select(job_tasks.c.id)
            .where(job_tasks.c.queue == self.name)
            .order_by(job_tasks.c.priority.desc(), job_tasks.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite compiles it away
            .scalar_subquery()
        )
        with self.engine.begin() as conn:
            return conn.execute(
                delete(job_tasks).where(job_tasks.c.id == nxt).returning(job_tasks.c.data)
            ).scalar()

    def queue_size(self) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(
                select(func.count()).select_from(job_tasks).where(job_tasks.c.queue == self.name)
            )

    def enqueued_items(self, limit: int | None = None) -> list[bytes]:
        query = (
            select(job_tasks.c.data)
            .where(job_tasks.c.queue == self.name)
            .order_by(job_tasks.c.priority.desc(), job_tasks.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return list(conn.scalars(query))

    def flush_queue(self) -> None:
        self._write(delete(job_tasks).where(job_tasks.c.queue == self.name))

    # -- the schedule (delayed jobs, retries with a delay) --------------------------------

    def add_to_schedule(self, data: bytes, ts: datetime) -> None:
        self._write(insert(job_schedule).values(queue=self.name, data=data, run_at=_naive_utc(ts)))

    def read_schedule(self, ts: datetime) -> list[bytes]:
        due = (
            select(job_schedule.c.id)
            .where(job_schedule.c.queue == self.name, job_schedule.c.run_at <= _naive_utc(ts))
            .with_for_update(skip_locked=True)
        )
        with self.engine.begin() as conn:
            return list(
                conn.scalars(
                    delete(job_schedule)
                    .where(job_schedule.c.id.in_(due))
                    .returning(job_schedule.c.data)
                )
            )

    def schedule_size(self) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(
                select(func.count())
                .select_from(job_schedule)
                .where(job_schedule.c.queue == self.name)
            )

    def scheduled_items(self, limit: int | None = None) -> list[bytes]:
        query = (
            select(job_schedule.c.data)
            .where(job_schedule.c.queue == self.name)
            .order_by(job_schedule.c.run_at)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return list(conn.scalars(query))

    def flush_schedule(self) -> None:
        self._write(delete(job_schedule).where(job_schedule.c.queue == self.name))

    # -- key-value data: results, revocations, locks --------------------------------------

    def _key(self, key):
        return (job_data.c.queue == self.name) & (job_data.c.key == key)

    def put_data(self, key: str, value: bytes, is_result: bool = False) -> None:
        statement = self._insert(job_data).values(queue=self.name, key=key, value=value)
        self._write(
            statement.on_conflict_do_update(
                index_elements=[job_data.c.queue, job_data.c.key],
                set_={"value": statement.excluded.value},
            )
        )

    def peek_data(self, key: str):
        with self.engine.connect() as conn:
            value = conn.scalar(select(job_data.c.value).where(self._key(key)))
        return EmptyData if value is None else value

    def pop_data(self, key: str):
        with self.engine.begin() as conn:
            value = conn.scalar(delete(job_data).where(self._key(key)).returning(job_data.c.value))
        return EmptyData if value is None else value

    def has_data_for_key(self, key: str) -> bool:
        with self.engine.connect() as conn:
            return conn.scalar(select(exists().where(self._key(key))))

    def put_if_empty(self, key: str, value: bytes, ttl=None) -> bool:
        if ttl is not None:
            raise NotImplementedError("ttl is not supported by this storage.")
        statement = self._insert(job_data).values(queue=self.name, key=key, value=value)
        with self.engine.begin() as conn:
            # RETURNING, not rowcount: psycopg reports -1 for ON CONFLICT DO NOTHING here.
            inserted = statement.on_conflict_do_nothing().returning(job_data.c.key)
            return conn.execute(inserted).first() is not None

    def result_store_size(self) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(
                select(func.count()).select_from(job_data).where(job_data.c.queue == self.name)
            )

    def result_items(self) -> dict:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(job_data.c.key, job_data.c.value).where(job_data.c.queue == self.name)
            )
            return dict(rows.all())

    def flush_results(self) -> None:
        self._write(delete(job_data).where(job_data.c.queue == self.name))

    def flush_counters(self) -> None:  # no counters: huey's rate limits are not used
        pass


# Results are not kept: a job's effect is in the database, and nobody waits on a job.
huey = Huey("aksi", results=False, utc=True, immediate=True, storage_class=DatabaseStorage)
_state: dict = {"app": None}


def init_app(app: Flask) -> None:
    mode = app.config["AKSI_JOBS"]
    if mode not in MODES:
        raise RuntimeError(f"AKSI_JOBS must be one of {', '.join(MODES)}, not {mode!r}.")
    _state["app"] = app
    huey.storage_kwargs = {"app": app}
    huey._immediate = mode == "inline"
    huey.storage = huey.create_storage()


def _in_own_context(fn):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        # Its own app context, so its own session: inline, the enqueuing request's session
        # stays untouched; in the worker, each thread gets one.
        with _state["app"].app_context():
            try:
                return fn(*args, **kwargs)
            finally:
                db.session.remove()

    return run


def job(**options):
    """A background job: `fn(args)` enqueues (or, inline, runs) it; `fn.call_local(args)`
    runs it here and now."""

    def decorate(fn):
        return huey.task(name=fn.__name__, **options)(_in_own_context(fn))

    return decorate


def periodic(schedule, **options):
    """A job the worker runs on a schedule (huey.crontab); never in inline mode."""

    def decorate(fn):
        return huey.periodic_task(schedule, name=fn.__name__, **options)(_in_own_context(fn))

    return decorate


# -- enqueue after commit ----------------------------------------------------------------

_PENDING = "aksi_jobs_pending"


def after_commit(task, *args) -> None:
    """Enqueue `task(*args)` once the session's current transaction commits; forget it if
    the transaction is rolled back."""
    db.session.connection()  # in a transaction, so that its rollback is seen
    db.session.info.setdefault(_PENDING, []).append((task, args))


def enqueue(task, *args) -> None:
    """Enqueue (inline: run) `task(*args)` now, never raising: the caller's change is done
    and the periodic catch-up finds what a lost job left. Inside held(), kept for later."""
    held = g.get("_aksi_jobs_held") if has_app_context() else None
    if held is not None:
        held.append((task, args))
        return
    try:
        task(*args)
    except Exception:  # noqa: BLE001
        log.exception("job %s%r failed to start", getattr(task, "name", task), args)


@contextmanager
def held() -> Iterator[None]:
    """Keep the jobs asked for in the block and start them after it, once each: for work
    that holds one long transaction (the demo), where a job's own connection would wait
    on its locks."""
    outer = g.get("_aksi_jobs_held")
    g._aksi_jobs_held = kept = [] if outer is None else outer
    try:
        yield
    finally:
        g._aksi_jobs_held = outer
    if outer is None:
        for task, args in dict.fromkeys((t, a) for t, a in kept):
            enqueue(task, *args)


@event.listens_for(Session, "after_commit")
def _enqueue_pending(session: Session) -> None:
    for task, args in session.info.pop(_PENDING, None) or ():
        enqueue(task, *args)


@event.listens_for(Session, "after_soft_rollback")
def _forget_pending(session: Session, previous_transaction) -> None:
    # Every rollback() call, even when nothing was sent yet; not a savepoint's.
    if not previous_transaction.nested:
        session.info.pop(_PENDING, None)


def run_queued() -> int:
    """Run here every job that is due now, then return how many ran (`worker --drain`)."""
    count = 0
    for task in huey.read_schedule():
        huey.execute(task)
        count += 1
    while (data := huey.storage.dequeue()) is not None:
        huey.execute(huey.deserialize_task(data))
        count += 1
    return count
