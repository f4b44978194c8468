"""`flask aksi …` commands."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from .extensions import db

aksi = AppGroup("aksi", help="Aksi administration commands.")


@aksi.command("check-definitions")
@click.argument("directory", required=False)
def check_definitions(directory: str | None) -> None:
    """Validate the workflow definitions (the same checks as at start-up)."""
    from flask import current_app

    from .engine import DefinitionError, load_directory

    directory = directory or current_app.config["DEFINITIONS_DIR"]
    try:
        definitions = load_directory(directory)
        if not definitions:
            raise DefinitionError(f"{directory}: no workflow definition (*.yaml) found")
    except DefinitionError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    for d in definitions:
        click.echo(
            f"ok  {d.key} v{d.version}: {len(d.states)} states, "
            f"{len(d.transitions)} transitions ({d.source})"
        )


@aksi.command("verify-audit")
def verify_audit() -> None:
    """Check every case's audit chain; exits non-zero when any is broken."""
    from .models import Case
    from .services.audit import verify_all

    breaks = verify_all()
    total = db.session.scalar(db.select(db.func.count(Case.id)))
    for b in breaks:
        click.echo(f"case {b.case_id}: {b.reason}")
    if breaks:
        click.echo(f"{len(breaks)} of {total} cases have a broken audit chain.", err=True)
        sys.exit(1)
    click.echo(f"All {total} audit chains are intact.")


@aksi.command("migrate-cases")
@click.argument("key")
@click.option("--to", "to_version", type=int, required=True, help="Target definition version.")
@click.option("--dry-run", is_flag=True, help="List what would move where; change nothing.")
@click.option("--cohort", "cohort_id", type=int, help="Only the cases of this cohort.")
def migrate_cases(key: str, to_version: int, dry_run: bool, cohort_id: int | None) -> None:
    """Move the running cases of definition KEY to version --to, each through the one door
    (audited as "migrated"). A blocked case stays where it is, untouched."""
    from .engine import registry
    from .models import Case, Cohort
    from .services.errors import WorkflowError
    from .services.workflow import migrate_case, plan_migration

    try:
        target = registry.get(key, to_version)
    except LookupError:
        known = ", ".join(f"v{v}" for v in registry.versions(key)) or "none"
        raise click.UsageError(
            f"no definition {key} v{to_version} is loaded (versions of {key}: {known})"
        ) from None
    query = db.select(Case).where(Case.definition_key == key, Case.definition_version < to_version)
    if cohort_id is not None:
        query = query.where(Case.cohort_id == cohort_id)
    cases = db.session.scalars(query.order_by(Case.cohort_id, Case.id)).all()
    moved = blocked = finished = 0
    for case in cases:
        if registry.get(key, case.definition_version).state(case.state).terminal:
            finished += 1  # a finished case keeps the version it finished on
            continue
        step = plan_migration(case, target)
        where = f"v{step.from_version} {step.from_state} -> v{step.to_version} {step.to_state}"
        if not step.ok:
            blocked += 1
            reasons = "; ".join(str(r) for r in step.blocked)
            click.echo(f"case {case.id} ({case.trainee.name}): {where}: blocked: {reasons}")
            continue
        if dry_run:
            moved += 1
            click.echo(f"case {case.id} ({case.trainee.name}): {where}: would move")
            continue
        try:
            migrate_case(case, target)
        except WorkflowError as exc:
            blocked += 1
            click.echo(f"case {case.id} ({case.trainee.name}): {where}: refused: {exc.message}")
            continue
        moved += 1
        click.echo(f"case {case.id} ({case.trainee.name}): {where}: moved")
    if not dry_run:
        # A cohort whose running cases all moved starts its new trainees on the new version.
        cohorts = db.select(Cohort).where(
            Cohort.definition_key == key, Cohort.definition_version < to_version
        )
        if cohort_id is not None:
            cohorts = cohorts.where(Cohort.id == cohort_id)
        finished_states = {
            s for v in registry.versions(key) for s in registry.get(key, v).terminal_states
        }
        for cohort in db.session.scalars(cohorts):
            left = db.session.scalar(
                db.select(db.func.count(Case.id)).where(
                    Case.cohort_id == cohort.id,
                    Case.definition_version < to_version,
                    Case.state.not_in(finished_states),
                )
            )
            if not left:
                cohort.definition_version = to_version
        db.session.commit()
    verb = "would move" if dry_run else "moved"
    click.echo(
        f"{key} -> v{to_version}: {moved} {verb}, {blocked} blocked, "
        f"{finished} finished (stay on their version)."
    )


@aksi.command("token")
@click.argument("username")
def token(username: str) -> None:
    """Issue a new API bearer token for USERNAME (replaces the previous CLI token)."""
    from .models import User
    from .services import accounts

    user = db.session.scalar(db.select(User).where(User.username == username))
    if user is None:
        click.echo(f"error: no user named {username!r}", err=True)
        sys.exit(2)
    click.echo(accounts.issue_api_token(user, "cli", replace=True))


@aksi.command("demo")
def demo() -> None:
    """Load the demo data (idempotent) and print the demo accounts."""
    from .services import demo as demo_service

    created = demo_service.load()
    click.echo("Demo data loaded." if created else "Demo data already present.")
    click.echo("Demo accounts (demo only), password: " + demo_service.PASSWORD)
    for username, role in demo_service.ACCOUNTS:
        click.echo(f"  {username:<14} {role}")


@aksi.command("send-mail")
@click.option("--limit", default=500, show_default=True, help="At most this many mails per run.")
def send_mail(limit: int) -> None:
    """Send the e-mails of notifications not mailed yet (run it from cron)."""
    from .services.mail import deliver_pending

    outcome = deliver_pending(limit=limit)
    click.echo(
        f"sent {outcome.sent}, logged {outcome.logged}, refused {outcome.refused}, "
        f"still pending after failure {outcome.failed}"
    )
    if outcome.failed:
        sys.exit(1)


@aksi.command("remind")
@click.option(
    "--dry-run", is_flag=True, help="List the reminders that would be queued; write nothing."
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 5000),
    default=200,
    show_default=True,
    help="Cases read at a time.",
)
def remind(dry_run: bool, batch_size: int) -> None:
    """Queue deadline reminders and escalations, and mail each person's daily digest
    (run it from cron; every minute is safe)."""
    from .models import User
    from .services import reminders

    try:
        days_before, hour = reminders.settings()
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if dry_run:
        planned = reminders.plan(batch_size=batch_size)
        names = dict(
            db.session.execute(
                db.select(User.id, User.username).where(User.id.in_({d.user_id for d in planned}))
            ).all()
        )
        for d in planned:
            click.echo(
                f"would queue  {d.kind:<8} {d.subject:<16} due {d.due_date}  "
                f"to {names.get(d.user_id, d.user_id)} ({d.role})"
            )
        click.echo(
            f"dry run: {len(planned)} reminder(s) would be queued "
            f"({days_before} working day(s) before; digests from {hour:02d}:00); nothing sent."
        )
        return
    outcome = reminders.run(batch_size=batch_size)
    d = outcome.digests
    click.echo(
        f"reminders queued {outcome.queued}, digests sent {d.sent}, logged {d.logged}, "
        f"inbox only {d.in_app}, refused {d.refused}, still pending after failure {d.failed}; "
        f"{d.items} reminder(s) delivered, {d.dropped} dropped as no longer due"
    )
    if d.failed:
        sys.exit(1)


@aksi.command("invite")
@click.option("--cohort", "cohort_id", type=int, required=True, help="The cohort's id.")
def invite(cohort_id: int) -> None:
    """(Re-)send invitations to the cohort's people who have never set a password; a new
    invitation replaces the older link."""
    from .models import Cohort
    from .services import accounts

    if db.session.get(Cohort, cohort_id) is None:
        click.echo(f"error: no cohort with id {cohort_id}", err=True)
        sys.exit(2)
    people = accounts.without_password(cohort_id)
    reachable = [u for u in people if u.email]
    invited = accounts.invite([u.id for u in people])
    click.echo(
        f"invited {invited} of {len(people)} people without a password; "
        f"{len(people) - len(reachable)} without an e-mail address, "
        f"{len(reachable) - invited} not sent"
    )
    if invited < len(reachable):
        sys.exit(1)


@aksi.command("create-admin")
@click.option(
    "--institution", "code", required=True, help="The institution's code, e.g. BPSDM-KALTIM."
)
@click.option("--institution-name", help="Its name; required when the code is new.")
@click.option(
    "--timezone",
    type=click.Choice(["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"]),
    default="Asia/Jakarta",
    show_default=True,
    help="A new institution's zone (WIB, WITA, WIT).",
)
@click.option("--username", required=True)
@click.option("--name", required=True, help="The person's full name.")
@click.option("--email", required=True)
def create_admin(
    code: str, institution_name: str | None, timezone: str, username: str, name: str, email: str
) -> None:
    """Create an institution's administrator — and the institution, if its code is new —
    on a fresh server, and print the link that sets their password (it works
    AKSI_INVITE_DAYS days). Everything else is then done in the app."""
    from .models import Institution, User
    from .services import accounts

    code, username, email = code.strip(), username.strip(), email.strip()
    problems = []
    if not code or len(code) > 40:
        problems.append("--institution must be 1 to 40 characters")
    if not username or len(username) > 80 or any(c.isspace() for c in username):
        problems.append("--username must be 1 to 80 characters without spaces")
    if "@" not in email.strip("@") or len(email) > 200 or any(c.isspace() for c in email):
        problems.append(f"--email {email!r} is not an e-mail address")
    institution = db.session.scalar(db.select(Institution).where(Institution.code == code))
    if institution is None and not (institution_name or "").strip():
        problems.append(f"no institution {code!r} yet: give --institution-name to create it")
    if db.session.scalar(db.select(User.id).where(User.username == username)) is not None:
        problems.append(f"the username {username!r} is taken")
    if problems:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(2)
    if institution is None:
        institution = Institution(code=code, name=institution_name.strip(), timezone=timezone)
        db.session.add(institution)
    user = User(
        username=username,
        name=name.strip(),
        email=email,
        password_hash="",
        is_admin=True,
        institution=institution,
    )
    db.session.add(user)
    db.session.flush()
    raw = accounts.issue(user, accounts.INVITE)
    db.session.commit()
    click.echo(f"{user.username}: administrator of {institution.name} ({institution.code}).")
    click.echo(f"Set the password (once, within {accounts.invite_lifetime().days} days):")
    click.echo(accounts.link_for(raw))


@aksi.command("reindex-repository")
def reindex_repository() -> None:
    """Rebuild the repository's search index from the cases (after an upgrade that
    introduced it, or to repair it); the app keeps it in step by itself afterwards."""
    from .services import repository

    click.echo(f"indexed {repository.rebuild()} change action(s)")


@aksi.command("national-admin")
@click.argument("username")
@click.option("--off", is_flag=True, help="Take the right away again.")
def national_admin(username: str, off: bool) -> None:
    """Let a person search the repository of every institution (e.g. at LAN), or no longer."""
    from .models import User

    user = db.session.scalar(db.select(User).where(User.username == username))
    if user is None:
        click.echo(f"error: no user named {username!r}", err=True)
        sys.exit(2)
    user.national_admin = not off
    db.session.commit()
    state = "no longer searches" if off else "searches"
    click.echo(f"{username} {state} the repository of every institution.")


@aksi.command("worker")
@click.option(
    "--threads", type=click.IntRange(1, 32), default=2, show_default=True, help="Jobs at once."
)
@click.option("--no-periodic", is_flag=True, help="Leave the scheduled jobs to other workers.")
@click.option("--drain", is_flag=True, help="Run the jobs due now, then exit (no schedule).")
def worker(threads: int, no_periodic: bool, drain: bool) -> None:
    """Run the background jobs (mail, invitations, imports, thumbnails) and, every few
    minutes, the reminders and the catch-up. Any number may run, on any node."""
    from flask import current_app

    from .jobs import huey, run_queued

    if current_app.config["AKSI_JOBS"] != "queue":
        click.echo(
            "error: AKSI_JOBS is 'inline' (jobs run in the web process); a worker needs "
            "AKSI_JOBS=queue in the web processes and here.",
            err=True,
        )
        sys.exit(2)
    if drain:
        click.echo(f"ran {run_queued()} job(s)")
        return
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # SIGTERM (systemd stop) lets running jobs finish; a new job waits at most 2 s.
    huey.create_consumer(
        workers=threads,
        worker_type="thread",
        periodic=not no_periodic,
        max_delay=2.0,
        graceful_signal="TERM",
        shutdown_timeout=60,
    ).run()


def register(app: Flask) -> None:
    # Registers backup/restore, embed and sweep-uploads; a top import is circular.
    from . import cli_backup, cli_regions, cli_similarity, cli_uploads  # noqa: F401

    app.cli.add_command(aksi)
