"""outbox: the notification table (transactional outbox), webhooks, users' e-mail and notification choice

Every notification (an e-mail, an in-app message) is a row written in the same transaction as
the change that causes it; a sender delivers the rows after the commit, with retries.

Revision ID: 0005_outbox
Revises: 0003
Create Date: 2026-12-01 15:00:00
"""
import sqlalchemy as sa
from alembic import op

from caseflow import store

revision = '0005_outbox'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'notification',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('recipient', sa.String(length=320), nullable=False),
        sa.Column('username', sa.String(length=100), nullable=True),
        sa.Column('language', sa.String(length=10), nullable=False),
        sa.Column('template', sa.String(length=100), nullable=True),
        sa.Column('args', sa.JSON(), nullable=False),
        sa.Column('subject', sa.String(length=500), nullable=True),
        sa.Column('body', sa.Text(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', store.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', store.UTCDateTime(timezone=True), nullable=False),
        sa.Column('sent_at', store.UTCDateTime(timezone=True), nullable=True),
        sa.Column('read_at', store.UTCDateTime(timezone=True), nullable=True),
        sa.Column('instance_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_notification_inbox', ['channel', 'recipient', 'read_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_username'), ['username'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_instance_id'), ['instance_id'], unique=False)
    op.create_table(
        'webhook',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('secret', sa.String(length=200), nullable=False),
        sa.Column('kinds', sa.JSON(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', store.UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    # ADD COLUMN (nullable, or with a constant default) is done in place on SQLite and PostgreSQL.
    op.add_column('app_user', sa.Column('email', sa.String(length=254), nullable=True))
    op.add_column('app_user', sa.Column('notify_tasks', sa.String(length=20), nullable=False,
                                        server_default='immediate'))


def downgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('notify_tasks')
        batch_op.drop_column('email')
    op.drop_table('webhook')
    op.drop_table('notification')
