"""Evaluation: score sheets on the definition's rubric, drafts, submission, results."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..engine.activities import ActivityContext, ActivityResult, activity
from .errors import NotAvailable


@activity("submit_scores")
def submit_scores(ctx: ActivityContext) -> ActivityResult:
    # Replaced by the evaluation service (issue 5); refuses until then.
    raise NotAvailable(_l("This action is not available in the current state."))
