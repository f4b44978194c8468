"""Seminars (seminar rancangan, seminar laporan): scheduling, invitations, attendance."""

from __future__ import annotations

from ..engine.activities import ActivityContext, ActivityResult, activity
from .errors import NotAvailable


@activity("schedule_seminar")
def schedule_seminar(ctx: ActivityContext) -> ActivityResult:
    raise NotAvailable("not built yet")


@activity("record_attendance")
def record_attendance(ctx: ActivityContext) -> ActivityResult:
    raise NotAvailable("not built yet")


@activity("upload_presentation")
def upload_presentation(ctx: ActivityContext) -> ActivityResult:
    raise NotAvailable("not built yet")
