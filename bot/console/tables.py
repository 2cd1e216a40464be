"""Tables owned by the console."""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
