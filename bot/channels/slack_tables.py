"""Tables owned by the Slack channel."""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
