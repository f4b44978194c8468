"""(being written) flask aksi regions load."""

from __future__ import annotations
