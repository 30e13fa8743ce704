"""Merge the branches of 0016: report figures and cheaper search triggers.

Revision ID: 0020
Revises: 0017, 0019
"""
from __future__ import annotations

revision = '0020'
down_revision = ('0017', '0019')
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to do: the branches touch different tables."""


def downgrade() -> None:
    """Nothing to undo."""
