"""session generation: a counter on each user that ends all of their sessions when raised

The session cookie is signed, not stored: signing out only told the browser to drop it, and a
copy kept from before still worked. The cookie now carries the user's ``session_generation``
(inside its tag, see ``accounts.session_tag``), and sign-out, a password change and
deactivation raise it, so every earlier cookie of that user stops working.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08 12:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN with a constant default is done in place on SQLite and PostgreSQL (no rebuild).
    op.add_column('app_user', sa.Column('session_generation', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
