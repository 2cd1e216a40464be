"""Console accounts: `deskbot user ...` (not built yet)."""

from __future__ import annotations
