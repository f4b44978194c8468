"""`flask aksi regions load`: the official region codes from the idn-area-data CSVs."""

from __future__ import annotations

import sys
import time

import click
from flask.cli import AppGroup
from sqlalchemy.exc import IntegrityError

from .cli import aksi
from .extensions import db

regions = AppGroup("regions", help="Official regions (Kemendagri codes).")
aksi.add_command(regions)

LEVEL_NAMES = {
    "province": "provinces",
    "regency": "regencies/cities",
    "district": "districts",
    "village": "villages",
}


@regions.command("load")
@click.option(
    "--source",
    "directory",
    type=click.Path(file_okay=False),
    default=None,
    help="Directory with provinces.csv, regencies.csv, districts.csv and villages.csv "
    "(default: REGIONS_DIR, else node_modules/idn-area-data/data).",
)
@click.option(
    "--province",
    "provinces",
    multiple=True,
    metavar="CODE",
    help="Load only this province's tree (e.g. 18 for Lampung); repeatable.",
)
def load(directory: str | None, provinces: tuple[str, ...]) -> None:
    """Insert new units and update renamed ones by code, all in one transaction; the files
    are checked completely first, so a bad file writes nothing."""
    from .services import regions as svc

    started = time.monotonic()
    try:
        source = svc.read_source(directory, provinces)
    except svc.RegionFileError as exc:
        click.echo(f"error: {exc}", err=True)
        click.echo("Nothing was written.", err=True)
        sys.exit(1)
    click.echo(f"Source: {source.directory}" + (f" ({source.package})" if source.package else ""))
    try:
        result = svc.load(source)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        click.echo("error: another load wrote the same codes meanwhile; run it again.", err=True)
        click.echo("Nothing was written.", err=True)
        sys.exit(1)
    except Exception:
        db.session.rollback()
        raise
    for level in svc.LEVELS:
        c = result.counts[level]
        click.echo(
            f"{LEVEL_NAMES[level]:>17}: {c.inserted} inserted, {c.updated} updated, "
            f"{c.unchanged} unchanged"
        )
    click.echo(
        f"Done in {time.monotonic() - started:.1f} s: {result.inserted} inserted, "
        f"{result.updated} updated, {result.unchanged} unchanged."
    )
