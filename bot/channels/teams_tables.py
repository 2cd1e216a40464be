"""Tables owned by the Teams channel."""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
