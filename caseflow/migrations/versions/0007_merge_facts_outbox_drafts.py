"""Merge the three branches made from 0003: case facts, the notification outbox, process drafts.

Revision ID: 0007
Revises: 0004_case_facts, 0005_outbox, 0006_drafts
"""
from __future__ import annotations

revision = '0007'
down_revision = ('0004_case_facts', '0005_outbox', '0006_drafts')
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to do: the branches touch separate tables."""


def downgrade() -> None:
    """Nothing to do."""
