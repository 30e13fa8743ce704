"""portal filing: the one-time token of each filing form sent from the portal

A filing page carries a one-time token; ``portal_filing`` keeps its SHA-256 with the case it
filed, so the same form sent twice (a double click, a resent request) shows that case instead
of filing a second one (``caseflow.portal_filings``).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 14:50:00
"""
import sqlalchemy as sa
from alembic import op

from caseflow import store

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'portal_filing',
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('created_at', store.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('token_hash'),
    )
    op.create_index('ix_portal_filing_created_at', 'portal_filing', ['created_at'])


def downgrade() -> None:
    op.drop_index('ix_portal_filing_created_at', table_name='portal_filing')
    op.drop_table('portal_filing')
