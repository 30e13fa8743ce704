"""cheaper saves: the case search index is rewritten only when a case's searched text changes

Revision ID: 0019
Revises: 0016
Create Date: 2026-12-01 21:20:00
"""
from alembic import op

from caseflow import search_index

revision = '0019'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    search_index.install_triggers(op.get_bind(), when_changed=True)


def downgrade() -> None:
    search_index.install_triggers(op.get_bind(), when_changed=False)
