"""customer portal: the links that open one customer task each

Revision ID: 0012
Revises: 0007
Create Date: 2026-12-01 17:30:00
"""
import sqlalchemy as sa
from alembic import op

from caseflow import store

revision = '0012'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'portal_link',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('task_id', sa.String(length=36), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('language', sa.String(length=5), nullable=False),
        sa.Column('created_at', store.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', store.UTCDateTime(timezone=True), nullable=False),
        sa.Column('used_at', store.UTCDateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', store.UTCDateTime(timezone=True), nullable=True),
        sa.Column('revoked_by', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['task_id'], ['human_task.id']),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    with op.batch_alter_table('portal_link', schema=None) as batch_op:
        batch_op.create_index('ix_portal_link_task', ['task_id', 'revoked_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_portal_link_instance_id'), ['instance_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('portal_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_link_instance_id'))
        batch_op.drop_index('ix_portal_link_task')
    op.drop_table('portal_link')
