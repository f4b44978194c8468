"""(being written) Campaigns over region units: launch, oversight."""

from __future__ import annotations
