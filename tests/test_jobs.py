"""The job queue (huey, stored in the app's database) on SQLite and PostgreSQL: the storage
hands each job out once, jobs wait for the commit of what they follow, a real worker process
runs them, and reminders run on two nodes at once still send each digest once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from huey.constants import EmptyData
from sqlalchemy import func, select

from tests.factories import to_implementation
from tests.test_implementation_http import jpeg_bytes, upload
from workflow import jobs, tasks
from workflow.extensions import db
from workflow.models import Document, ImportBatch, Notification, job_tasks
from workflow.services import WorkflowError, imports, perform
from workflow.services.documents import path_of, thumb_path_of

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def queue_app(app):
    """The test's app with AKSI_JOBS=queue: jobs wait in the database for a worker."""
    app.config["AKSI_JOBS"] = "queue"
    jobs.init_app(app)
    return app


def queued() -> list[str]:
    return [task.name for task in jobs.huey.pending()]


def drain(app) -> str:
    result = app.test_cli_runner().invoke(args=["aksi", "worker", "--drain"])
    assert result.exit_code == 0, result.output
    return result.output


# ---------------------------------------------------------------- the storage


def test_storage_orders_by_priority_then_age_and_keeps_data(queue_app):
    storage = jobs.huey.storage
    for data, priority in ((b"a", 0), (b"b", 5), (b"c", 0), (b"d", 5)):
        storage.enqueue(data, priority)
    assert storage.queue_size() == 4
    assert storage.enqueued_items(limit=2) == [b"b", b"d"]
    assert [storage.dequeue() for _ in range(5)] == [b"b", b"d", b"a", b"c", None]

    now = datetime.now(UTC).replace(tzinfo=None)
    storage.add_to_schedule(b"due", now - timedelta(seconds=1))
    storage.add_to_schedule(b"later", now + timedelta(hours=1))
    assert storage.schedule_size() == 2
    assert storage.read_schedule(now) == [b"due"]
    assert storage.scheduled_items() == [b"later"]

    assert storage.peek_data("k") is EmptyData
    storage.put_data("k", b"1")
    storage.put_data("k", b"2")  # overwrites
    assert storage.peek_data("k") == b"2" and storage.has_data_for_key("k")
    assert storage.put_if_empty("k", b"3") is False
    assert storage.put_if_empty("lock", b"x") is True
    assert storage.result_items() == {"k": b"2", "lock": b"x"}
    assert storage.pop_data("k") == b"2" and storage.pop_data("k") is EmptyData
    storage.flush_results()
    storage.flush_schedule()
    assert storage.result_store_size() == storage.schedule_size() == 0


def test_two_workers_never_take_the_same_job(queue_app):
    storage = jobs.huey.storage
    for i in range(200):
        storage.enqueue(str(i).encode())
    taken: list[list[bytes]] = [[], [], [], []]
    start = threading.Barrier(len(taken))

    def take(mine: list[bytes]) -> None:
        start.wait()
        while (data := storage.dequeue()) is not None:
            mine.append(data)

    threads = [threading.Thread(target=take, args=(mine,)) for mine in taken]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    everything = [d for mine in taken for d in mine]
    assert sorted(everything) == sorted(str(i).encode() for i in range(200))
    assert storage.queue_size() == 0


# ---------------------------------------------------------------- jobs follow commits


def test_a_job_is_queued_only_when_its_change_commits(queue_app, world):
    jobs.after_commit(tasks.deliver_mail, 1)
    db.session.rollback()
    assert queued() == []
    jobs.after_commit(tasks.deliver_mail, 2)
    db.session.commit()
    assert queued() == ["deliver_mail"]


def test_a_refused_action_queues_nothing(queue_app, world):
    with pytest.raises(WorkflowError):
        perform(world.case, "approve", world.trainee)
    assert queued() == []


def test_action_mail_waits_for_the_worker(queue_app, smtp_server, world):
    queue_app.config.update(smtp_server.config())
    perform(world.case, "submit", world.trainee)
    assert smtp_server.messages == []  # the request did not talk to the mail server
    assert "deliver_mail" in queued()  # beside the submission's similarity vectors
    drain(queue_app)
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(
        [world.mentor.email, world.coach.email]
    )
    assert db.session.scalar(
        select(func.count(Notification.id)).where(Notification.emailed_at.is_(None))
    ) == db.session.scalar(
        select(func.count(Notification.id)).where(
            Notification.user_id.not_in([world.mentor.id, world.coach.id])
        )
    )


def _photo(world, app, tmp_path) -> Document:
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    with time_machine.travel(date(2026, 3, 10)):
        to_implementation(world)
        m = world.case.milestones[0]
        perform(
            world.case,
            "report_progress",
            world.trainee,
            data={"milestone_id": m.id, "status": "in_progress"},
            files=[upload(jpeg_bytes(), "foto.jpg")],
        )
    return db.session.scalar(select(Document).where(Document.kind == "evidence"))


def test_thumbnail_is_made_by_a_job_after_the_upload(queue_app, world, tmp_path):
    photo = _photo(world, queue_app, tmp_path)
    assert path_of(photo).is_file() and photo.thumb_name is None
    assert "make_thumbnail" in queued()
    drain(queue_app)
    db.session.refresh(photo)
    assert photo.thumb_name and thumb_path_of(photo).read_bytes()[:3] == b"\xff\xd8\xff"


def test_catch_up_makes_what_a_lost_job_left(queue_app, world, tmp_path, smtp_server):
    queue_app.config.update(smtp_server.config())
    photo = _photo(world, queue_app, tmp_path)
    jobs.huey.storage.flush_queue()  # the worker died with the jobs
    assert photo.thumb_name is None and smtp_server.messages == []
    tasks.catch_up.call_local()
    db.session.refresh(photo)
    assert photo.thumb_name and thumb_path_of(photo).is_file()
    assert smtp_server.messages  # the pending notification mail went out


def test_a_picture_that_does_not_render_gets_no_thumbnail_and_no_retry(queue_app, world, tmp_path):
    photo = _photo(world, queue_app, tmp_path)
    path_of(photo).write_bytes(jpeg_bytes()[:200])  # a header, then nothing
    drain(queue_app)
    db.session.refresh(photo)
    assert photo.thumb_name == ""
    tasks.catch_up.call_local()  # not tried again
    db.session.refresh(photo)
    assert photo.thumb_name == ""


def test_inline_jobs_run_before_the_request_ends(app, world, tmp_path):
    assert app.config["AKSI_JOBS"] == "inline"
    photo = _photo(world, app, tmp_path)
    assert photo.thumb_name and thumb_path_of(photo).is_file()


def test_import_runs_as_a_job_and_the_preview_follows_it(queue_app, client, world, smtp_server):
    from tests.test_http_helpers import login, page_token
    from tests.test_imports import base_rows, csv_of

    queue_app.config.update(smtp_server.config())
    batch = imports.store_batch(world.cohort, world.organizer, csv_of(base_rows()), "baru.csv")
    assert imports.counts(batch.rows)["ok"] == 3, batch.rows
    login(client, world.organizer)
    url = f"/cohorts/{world.cohort.id}/import/{batch.id}"
    token = page_token(client, url)
    response = client.post(url, data={"csrf_token": token}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="import-running"' in html
    assert queued() == ["run_import"]
    drain(queue_app)  # the import, then the invitation it asked for
    db.session.expire_all()
    batch = db.session.get(ImportBatch, batch.id)
    assert batch.imported_at is not None and batch.summary["cases"] == 1
    assert batch.summary["invited"] == batch.summary["created"] == 3
    assert len({m["To"] for m in smtp_server.messages}) == len(smtp_server.messages) == 3
    html = client.get(url).get_data(as_text=True)
    assert 'id="import-running"' not in html


# ---------------------------------------------------------------- worker processes


def _env(database_url: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AKSI_", "MAIL_"))}
    env.update(
        AKSI_ENV="development",
        DATABASE_URL=database_url,
        AKSI_JOBS="queue",
        AKSI_EMBEDDING_MODEL="off",  # as in the tests' config: no model load per process
        PYTHONPATH=str(ROOT),
        **{k: str(v) for k, v in extra.items()},
    )
    return env


def _flask(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", "aksi", *args]


def test_a_worker_process_runs_the_queue(queue_app, world, database_url, smtp_server):
    perform(world.case, "submit", world.trainee)
    assert "deliver_mail" in queued()
    env = _env(database_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port)
    worker = subprocess.Popen(
        _flask("worker", "--threads", "2"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while len(smtp_server.messages) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)  # systemd's stop: finish, then exit
        output = worker.communicate(timeout=30)[0]
    assert worker.returncode == 0, output
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(
        [world.mentor.email, world.coach.email]
    ), output
    assert db.session.scalar(select(func.count()).select_from(job_tasks)) == 0


def test_remind_on_two_nodes_at_once_sends_each_digest_once(app, world, database_url, smtp_server):
    # A draft long past its due date: the trainee is late, the mentor and the organizer
    # get the escalation.
    world.case.due_date = date.today() - timedelta(days=20)
    db.session.commit()
    env = _env(
        database_url,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp_server.port,
        AKSI_REMIND_HOUR=0,
        MAIL_SEND_IMMEDIATELY=0,
    )
    nodes = [
        subprocess.Popen(
            _flask("remind"), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for _ in range(2)
    ]
    outputs = [node.communicate(timeout=120)[0].decode() for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs
    recipients = sorted(m["To"] for m in smtp_server.messages)
    assert world.trainee.email in recipients and world.mentor.email in recipients, outputs
    assert len(recipients) == len(set(recipients)), recipients


@pytest.mark.parametrize(
    ("env", "jobs_setting", "expected"),
    [
        ("production", None, "queue"),
        ("development", None, "inline"),
        ("production", "inline", "inline"),
        ("development", "queue", "queue"),
    ],
)
def test_jobs_mode_follows_the_environment(make_app, env, jobs_setting, expected):
    from tests.conftest import BASE_CONFIG

    config = {**BASE_CONFIG, "TESTING": False, "AKSI_ENV": env, "AKSI_JOBS": jobs_setting}
    config["SECRET_KEY"] = "x" * 40
    assert make_app(**config).config["AKSI_JOBS"] == expected


def test_unknown_jobs_mode_stops_the_start(make_app):
    with pytest.raises(RuntimeError, match="AKSI_JOBS must be one of inline, queue"):
        make_app(AKSI_JOBS="celery")


def test_worker_refuses_inline_mode(app):
    result = app.test_cli_runner().invoke(args=["aksi", "worker", "--drain"])
    assert result.exit_code == 2 and "AKSI_JOBS=queue" in result.output


def test_a_thumbnail_cut_off_before_its_row_update_is_made_again(queue_app, world, tmp_path):
    """The worker (or the database) died between writing the thumbnail and recording it:
    the file is there, the row says none yet; the catch-up makes it again, not stuck."""
    photo = _photo(world, queue_app, tmp_path)
    drain(queue_app)
    db.session.refresh(photo)
    leftover = thumb_path_of(photo)
    photo.thumb_name = None
    db.session.commit()
    assert leftover.is_file()
    tasks.catch_up.call_local()
    db.session.refresh(photo)
    assert thumb_path_of(photo) == leftover and leftover.is_file()
    assert not list(leftover.parent.glob("*.part"))
