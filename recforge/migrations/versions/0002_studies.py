"""Studies of ``recforge tune``: ``studies`` and ``study_trials``; runs may end ``pruned``.

Hand-checked against ``recforge.core.store.tables`` like 0001 (the migration test compares
the upgraded schema with the ORM). Frozen: never import the ORM here.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "status IN ('created', 'running', 'finished', 'failed', 'interrupted')"
NEW_STATUSES = "status IN ('created', 'running', 'finished', 'failed', 'interrupted', 'pruned')"


def _run_status(condition: str) -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint(op.f("ck_runs_status"), type_="check")
        batch.create_check_constraint(op.f("ck_runs_status"), condition)


def upgrade() -> None:
    _run_status(NEW_STATUSES)
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("metric", sa.String(length=100), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("sampler", sa.String(length=16), nullable=False),
        sa.Column("pruner", sa.String(length=16), nullable=False),
        sa.Column("config_path", sa.Text(), nullable=False),
        sa.Column("overrides", sa.JSON(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("space", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_studies")),
        sa.UniqueConstraint("name", name=op.f("uq_studies_name")),
    )
    op.create_table(
        "study_trials",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("worker", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('running', 'complete', 'pruned', 'failed')", name=op.f("ck_study_trials_state")
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["studies.id"], name=op.f("fk_study_trials_study_id_studies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_study_trials_run_id_runs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_trials")),
        sa.UniqueConstraint("study_id", "number", name=op.f("uq_study_trials_study_id_number")),
    )
    op.create_index(op.f("ix_study_trials_run_id"), "study_trials", ["run_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_study_trials_run_id"), table_name="study_trials")
    op.drop_table("study_trials")
    op.drop_table("studies")
    op.execute("UPDATE runs SET status = 'failed' WHERE status = 'pruned'")
    _run_status(OLD_STATUSES)
