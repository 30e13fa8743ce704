"""Merge the branches of 0007: workflow task rows, report summaries, task notices,
collaboration, portal links and returned-goods defects.

Revision ID: 0016
Revises: 0008, 0009, 0010, 0011, 0012, 0015
"""
from __future__ import annotations

revision = '0016'
down_revision = ('0008', '0009', '0010', '0011', '0012', '0015')
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to do: the branches touch different tables."""


def downgrade() -> None:
    """Nothing to undo."""
