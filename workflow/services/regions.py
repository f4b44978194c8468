"""(being written) Official region codes: load, search, tree."""

from __future__ import annotations
