"""directory version: a token that changes with users, roles and webhooks, so the outbox may cache them

The notification outbox read the active webhooks and the users of the roles concerned with one
query per action. It now keeps them in memory under the token of ``directory_version``'s only
row, which triggers on ``app_user``, ``user_role`` and ``webhook`` renew with every change that
a notification can see (``caseflow.store_directory``).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 07:40:00
"""
import sqlalchemy as sa
from alembic import op

from caseflow import store_directory

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(store_directory.TABLE,
                    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column('token', sa.String(length=36), nullable=False),
                    sa.PrimaryKeyConstraint('id'))
    store_directory.install(op.get_bind())


def downgrade() -> None:
    store_directory.uninstall(op.get_bind())
    op.drop_table(store_directory.TABLE)
