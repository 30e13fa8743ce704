"""returned-goods defect statistics: ``returned_goods_defect``

One row per defect phenomenon found by one returned-goods test (a case of ``returned_goods``,
or one call of it from a complaint), with the product model and the test day; kept in step with
each save by the facts writer (``caseflow.returned_goods_stats``) and read by the KPI dashboard.
The rows of the cases already stored are derived from their data.

Revision ID: 0015
Revises: 0007
Create Date: 2026-12-01 18:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = '0015'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'returned_goods_defect',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('process_key', sa.String(length=200), nullable=False),
        sa.Column('call_seq', sa.Integer(), nullable=False),
        sa.Column('returned_goods_no', sa.String(length=40), nullable=False),
        sa.Column('product_model', sa.String(length=200), nullable=False),
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('phenomenon', sa.String(length=200), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_rg_defect_instance', 'returned_goods_defect', ['instance_id'])
    op.create_index('ix_rg_defect_month_model', 'returned_goods_defect', ['month', 'product_model', 'phenomenon'])
    from caseflow import returned_goods_stats

    returned_goods_stats.rebuild(Session(bind=op.get_bind()))


def downgrade() -> None:
    op.drop_index('ix_rg_defect_month_model', table_name='returned_goods_defect')
    op.drop_index('ix_rg_defect_instance', table_name='returned_goods_defect')
    op.drop_table('returned_goods_defect')
