"""collaboration: comments, absences with substitutes, saved inbox filters, the case search index

Revision ID: 0011
Revises: 0007
Create Date: 2026-12-01 17:30:00
"""
import sqlalchemy as sa
from alembic import op

from caseflow import search_index, store

revision = '0011'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'comment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('task_id', sa.String(length=36), nullable=True),
        sa.Column('author', sa.String(length=100), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('mentions', sa.JSON(), nullable=False),
        sa.Column('attachment_ids', sa.JSON(), nullable=False),
        sa.Column('created_at', store.UTCDateTime(timezone=True), nullable=False),
        sa.Column('edited_at', store.UTCDateTime(timezone=True), nullable=True),
        sa.Column('deleted_at', store.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_comment_instance', 'comment', ['instance_id', 'id'], unique=False)
    op.create_table(
        'absence',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('username', sa.String(length=100), nullable=False),
        sa.Column('substitute', sa.String(length=100), nullable=False),
        sa.Column('starts_at', store.UTCDateTime(timezone=True), nullable=False),
        sa.Column('ends_at', store.UTCDateTime(timezone=True), nullable=False),
        sa.Column('note', sa.String(length=500), nullable=True),
        sa.Column('created_at', store.UTCDateTime(timezone=True), nullable=False),
        sa.Column('cancelled_at', store.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_absence_user_period', 'absence', ['username', 'starts_at', 'ends_at'], unique=False)
    op.create_index('ix_absence_substitute', 'absence', ['substitute'], unique=False)
    op.create_table(
        'saved_filter',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('username', sa.String(length=100), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('args', sa.JSON(), nullable=False),
        sa.Column('created_at', store.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('username', 'name'),
    )
    op.create_index('ix_saved_filter_username', 'saved_filter', ['username'], unique=False)
    search_index.install(op.get_bind())


def downgrade() -> None:
    search_index.uninstall(op.get_bind())
    op.drop_table('saved_filter')
    op.drop_table('absence')
    op.drop_index('ix_comment_instance', table_name='comment')
    op.drop_table('comment')
