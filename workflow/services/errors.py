"""Typed refusals of perform(); each maps to an HTTP status."""

from __future__ import annotations


class WorkflowError(Exception):
    status = 400

    def __init__(self, message, reasons=None, fields=None):
        super().__init__(str(message))
        self.message = message
        self.reasons = list(reasons or [])
        # Per-field messages, for forms that show each beside its field.
        self.fields = dict(fields or {})


class Forbidden(WorkflowError):
    status = 403


class NotAvailable(WorkflowError):
    status = 409


class Blocked(WorkflowError):
    status = 422


class Conflict(WorkflowError):
    status = 409


class Missing(WorkflowError):
    """The thing named is not part of this case (another's milestone): a 404."""

    status = 404
