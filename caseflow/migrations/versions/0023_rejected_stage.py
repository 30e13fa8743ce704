"""rejected stage: a complaint judged not valid is its own stage in the reports and weighs 0 in the KPI

``case_fact_day`` gains ``stage_rejected``; the facts of the cases already stored are derived
again (a complaint that ended as ``rejected`` moves from ``resolved`` to ``rejected`` with KPI
weight 0) and the summaries summed from them.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 15:40:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case_fact_day', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stage_rejected', sa.Integer(), nullable=False, server_default='0'))
    from caseflow import case_facts

    case_facts.rebuild(Session(bind=op.get_bind()))


def downgrade() -> None:
    with op.batch_alter_table('case_fact_day', schema=None) as batch_op:
        batch_op.drop_column('stage_rejected')
