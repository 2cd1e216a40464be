"""article versions: who changed what, when and why; where the latest change came from

Revision ID: knowledge_0001
Revises: retrieval_0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "knowledge_0001"
down_revision = "retrieval_0002"
branch_labels = None
depends_on = None

RECORD_FIELDS = (
    "title",
    "owner",
    "status",
    "reviewed_on",
    "review_every_days",
    "tags",
    "questions",
    "answer",
    "link",
    "body",
)


def upgrade() -> None:
    with op.batch_alter_table("kb_articles") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("changed_via", sa.String(16), nullable=True))
        batch.add_column(sa.Column("imported_hash", sa.String(64), nullable=True))
    versions = op.create_table(
        "kb_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("article_id", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
    )
    op.create_index("ix_kb_versions_article", "kb_versions", ["article_id", "version"], unique=True)
    # Articles stored before versions existed become version 1, as imported.
    articles = sa.table(
        "kb_articles",
        sa.column("id", sa.String()),
        sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("reviewed_on", sa.Date()),
        sa.column("tags", sa.JSON()),
        sa.column("questions", sa.JSON()),
        *(
            sa.column(name)
            for name in RECORD_FIELDS
            if name not in ("reviewed_on", "tags", "questions")
        ),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(articles)).mappings().all()
    if rows:
        op.bulk_insert(
            versions,
            [
                {
                    "article_id": r["id"],
                    "version": 1,
                    "at": r["updated_at"],
                    "author": "import",
                    "via": "import",
                    "reason": "stored before versions were kept",
                    "record": {
                        name: (
                            r[name].isoformat() if name == "reviewed_on" and r[name] else r[name]
                        )
                        for name in RECORD_FIELDS
                    },
                }
                for r in rows
            ],
        )
    op.execute("UPDATE kb_articles SET version = 1, changed_via = 'import'")


def downgrade() -> None:
    op.drop_table("kb_versions")
    with op.batch_alter_table("kb_articles") as batch:
        batch.drop_column("imported_hash")
        batch.drop_column("changed_via")
        batch.drop_column("version")
