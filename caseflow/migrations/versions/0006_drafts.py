"""process drafts: a process owner's edited bundle, stored until an admin deploys it

Revision ID: 0006_drafts
Revises: 0003
Create Date: 2026-12-01 15:00:00
"""
import sqlalchemy as sa
from alembic import op

from caseflow import store

revision = '0006_drafts'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'process_draft',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('base_definition_id', sa.Integer(), nullable=True),
        sa.Column('base_version', sa.Integer(), nullable=True),
        sa.Column('files', sa.JSON(), nullable=False),
        sa.Column('author', sa.String(length=200), nullable=False),
        sa.Column('created_at', store.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', store.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('row_version', sa.Integer(), nullable=False),
        sa.Column('deployed_definition_id', sa.Integer(), nullable=True),
        sa.Column('deployed_at', store.UTCDateTime(timezone=True), nullable=True),
        sa.Column('deployed_by', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['base_definition_id'], ['process_definition.id']),
        sa.ForeignKeyConstraint(['deployed_definition_id'], ['process_definition.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('process_draft', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_draft_key'), ['key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('process_draft', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_draft_key'))
    op.drop_table('process_draft')
