"""Every package's tables, for the migrations. No foreign keys cross packages: ids only."""

from __future__ import annotations

from sqlalchemy import MetaData


def all_metadata() -> list[MetaData]:
    from retrieval.store import metadata as retrieval_metadata

    return [retrieval_metadata]
