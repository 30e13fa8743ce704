"""report speed: the partial indexes of the cases late now lead with the due time and cover the query

The dashboard counts, per deadline, the complaints whose deadline is still open past its due
time (and how late they are), and lists the latest twenty. The partial indexes of 0009 were
ordered by registration time and lacked the deadline's state column, so SQLite read every open
row of the table to check the state and sorted them all to list twenty. The new indexes lead
with the due time (the list reads the first twenty entries in order) and hold the state, the
registration time and the department, so the counts read the index alone.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 00:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

DEADLINES = ('reaction', 'containment', 'closure', 'repair_reply', 'repair_cycle')  # store.FACT_DEADLINES


def _open(name: str) -> dict:
    return {'sqlite_where': sa.text(f"{name} = 'open'"), 'postgresql_where': sa.text(f"{name} = 'open'")}


def upgrade() -> None:
    for name in DEADLINES:
        op.drop_index(f'ix_facts_overdue_{name}', table_name='case_facts')
        op.create_index(f'ix_facts_late_{name}', 'case_facts',
                        ['process_key', f'{name}_due', 'registered_at', 'department', name], **_open(name))


def downgrade() -> None:
    for name in DEADLINES:
        op.drop_index(f'ix_facts_late_{name}', table_name='case_facts')
        op.create_index(f'ix_facts_overdue_{name}', 'case_facts',
                        ['process_key', 'registered_at', f'{name}_due', 'department'], **_open(name))
