"""`flask aksi embed`: compute the similarity vectors of submitted proposals.

The worker embeds each submission in a job and its catch-up finds what a lost job left; this
command does the same at once (after an upgrade, a restore, or once the model is installed),
or with --all recomputes every one (after changing the model)."""

from __future__ import annotations

import time

import click

from .cli import aksi
from .extensions import db


@aksi.command("embed")
@click.option("--all", "everything", is_flag=True, help="Recompute every submitted proposal.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="At most this many proposals."
)
def embed(everything: bool, limit: int | None) -> None:
    """Compute the missing or outdated similarity vectors (--all: every one)."""
    from .models import ProposalSnapshot
    from .services import similarity

    status = similarity.engine_status()
    if status.degraded:
        click.echo(
            f"warning: the embedding model is not used ({status.reason}"
            f"{': ' + status.detail if status.detail else ''}); only the lexical vectors "
            "are computed.",
            err=True,
        )
    if everything:
        query = db.select(ProposalSnapshot.case_id).distinct().order_by(ProposalSnapshot.case_id)
        ids = list(db.session.scalars(query.limit(limit) if limit else query))
    else:
        ids = similarity.pending_case_ids(limit)
    started = time.monotonic()
    written = 0
    for n, case_id in enumerate(ids, 1):
        if similarity.embed_submitted(case_id, force=everything):
            written += 1
        if n % 100 == 0:
            click.echo(f"{n} of {len(ids)} proposals …")
    elapsed = time.monotonic() - started
    click.echo(f"{written} of {len(ids)} proposals embedded ({status.model}) in {elapsed:.1f} s.")
