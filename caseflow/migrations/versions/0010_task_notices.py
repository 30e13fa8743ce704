"""task notices: the deadline events (due soon, overdue) each task has had, once per task and event

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-01 17:45:00
"""
import sqlalchemy as sa
from alembic import op

from caseflow import store

revision = '0010'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'task_notice',
        sa.Column('task_id', sa.String(length=36), nullable=False),
        sa.Column('event', sa.String(length=20), nullable=False),
        sa.Column('created_at', store.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['task_id'], ['human_task.id']),
        sa.PrimaryKeyConstraint('task_id', 'event'),
    )


def downgrade() -> None:
    op.drop_table('task_notice')
