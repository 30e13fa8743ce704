"""case facts: one reporting row per case for the KPI dashboard, filled for existing cases

The KPI reports aggregate ``case_facts`` with SQL (indexed by process, registration time,
month and class, department, customer and stage) instead of reading JSON data or workflows.
The engine keeps each row in step with every save (``caseflow._engine.facts``); this
revision creates the table and derives the rows of the cases already stored, from their
instance and task rows (``caseflow.case_facts``, as ``caseflow facts rebuild`` does).

Revision ID: 0004_case_facts
Revises: 0003
Create Date: 2026-12-01 15:10:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from caseflow import store

revision = '0004_case_facts'
down_revision = '0003'
branch_labels = None
depends_on = None

DEADLINES = ('reaction', 'containment', 'closure', 'repair_reply', 'repair_cycle')  # store.FACT_DEADLINES


def upgrade() -> None:
    when = store.UTCDateTime(timezone=True)
    deadline_columns = []
    for name in DEADLINES:
        deadline_columns += [sa.Column(name, sa.String(length=8), nullable=True),
                             sa.Column(f'{name}_due', when, nullable=True)]
    op.create_table(
        'case_facts',
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('process_key', sa.String(length=200), nullable=False),
        sa.Column('registered_at', when, nullable=False),
        sa.Column('registered_month', sa.String(length=7), nullable=False),
        sa.Column('department', sa.String(length=200), nullable=True),
        sa.Column('customer_code', sa.String(length=200), nullable=True),
        sa.Column('customer_name', sa.String(length=300), nullable=True),
        sa.Column('product_model', sa.String(length=200), nullable=True),
        sa.Column('complaint_type', sa.String(length=100), nullable=True),
        sa.Column('kpi_class', sa.String(length=50), nullable=True),
        sa.Column('kpi_weight', sa.Integer(), nullable=True),
        sa.Column('loss_amount', sa.Float(), nullable=True),
        sa.Column('delivery_amount', sa.Float(), nullable=True),
        sa.Column('satisfaction', sa.Integer(), nullable=True),
        sa.Column('satisfied', sa.Boolean(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('stage', sa.String(length=20), nullable=False),
        *deadline_columns,
        sa.Column('escalations', sa.Integer(), nullable=False),
        sa.Column('escalations_manager', sa.Integer(), nullable=False),
        sa.Column('escalations_gm', sa.Integer(), nullable=False),
        sa.Column('in_warranty', sa.Boolean(), nullable=True),
        sa.Column('chargeable', sa.Boolean(), nullable=True),
        sa.Column('fee', sa.Float(), nullable=True),
        sa.Column('turnaround_days', sa.Integer(), nullable=True),
        sa.Column('updated_at', when, nullable=False),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('instance_id'),
    )
    with op.batch_alter_table('case_facts', schema=None) as batch_op:
        batch_op.create_index('ix_facts_key_registered', ['process_key', 'registered_at'], unique=False)
        batch_op.create_index('ix_facts_key_month', ['process_key', 'registered_month', 'kpi_class'], unique=False)
        batch_op.create_index('ix_facts_key_department', ['process_key', 'department', 'registered_at'],
                              unique=False)
        batch_op.create_index('ix_facts_key_customer', ['process_key', 'customer_code', 'registered_at'],
                              unique=False)
        batch_op.create_index('ix_facts_key_stage', ['process_key', 'stage', 'registered_at'], unique=False)

    # The rows of the cases already stored (none in a new database).
    from caseflow import case_facts

    case_facts.rebuild(Session(bind=op.get_bind()))


def downgrade() -> None:
    op.drop_table('case_facts')
