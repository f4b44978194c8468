"""(being written) Data forms of a case: check, save with history, reasons per field."""

from __future__ import annotations
