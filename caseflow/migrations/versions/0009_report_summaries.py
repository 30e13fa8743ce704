"""report summaries: daily and monthly sums of the case facts, covering indexes for the reports

The KPI dashboard read every ``case_facts`` row of its range (seconds at 100,000 cases). It
now reads ``case_fact_day`` (the additive figures per process, registration day, department
and KPI class) and ``case_fact_top`` (case count and KPI weight per month and customer,
product model or complaint type), kept in step by the facts writer
(``caseflow.fact_summary``). ``case_facts`` gains ``registered_day`` (the business time
zone's date, the summaries' key), an index covering the range scans of the top lists, and
one partial index per deadline over the open ones (the cases late now). Existing facts are
derived again (filling ``registered_day``) and the summaries summed from them.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-01 17:50:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = '0009'
down_revision = '0007'
branch_labels = None
depends_on = None

DEADLINES = ('reaction', 'containment', 'closure', 'repair_reply', 'repair_cycle')  # store.FACT_DEADLINES
COUNTS = (
    'n', 'weight', 'ratio_cases', 'band_lt_0_5pct', 'band_0_5_1pct', 'band_1_2pct', 'band_2_5pct', 'band_ge_5pct',
    'esc_manager', 'esc_gm', 'satisfied_yes', 'satisfied_no',
    *(f'{name}_{state}' for name in DEADLINES for state in ('met', 'late', 'open')),
    'sat_1', 'sat_2', 'sat_3', 'sat_4', 'sat_5',
    'stage_in_progress', 'stage_follow_up', 'stage_resolved', 'stage_cancelled',
    'warranty_in', 'warranty_out', 'chargeable_yes', 'chargeable_no', 'fee_cases', 'turnaround_cases',
    'turnaround_days',
)
FLOATS = ('loss', 'delivery', 'fee')


def upgrade() -> None:
    with op.batch_alter_table('case_facts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('registered_day', sa.String(length=10), nullable=True))
        batch_op.create_index('ix_facts_key_registered_top', ['process_key', 'registered_at', 'customer_code',
                                                              'product_model', 'complaint_type', 'kpi_weight'])
    for name in DEADLINES:
        op.create_index(f'ix_facts_overdue_{name}', 'case_facts',
                        ['process_key', 'registered_at', f'{name}_due', 'department'],
                        sqlite_where=sa.text(f"{name} = 'open'"), postgresql_where=sa.text(f"{name} = 'open'"))
    op.create_table(
        'case_fact_day',
        sa.Column('process_key', sa.String(length=200), nullable=False),
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('department', sa.String(length=200), nullable=False),
        sa.Column('kpi_class', sa.String(length=50), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
        *(sa.Column(name, sa.Float(), nullable=False) for name in FLOATS),
        sa.PrimaryKeyConstraint('process_key', 'day', 'department', 'kpi_class'),
    )
    op.create_table(
        'case_fact_top',
        sa.Column('process_key', sa.String(length=200), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('dimension', sa.String(length=40), nullable=False),
        sa.Column('value', sa.String(length=200), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('weight', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('process_key', 'month', 'dimension', 'value'),
    )
    # The facts of the cases already stored again (with their day), then their sums.
    from caseflow import case_facts

    case_facts.rebuild(Session(bind=op.get_bind()))


def downgrade() -> None:
    op.drop_table('case_fact_top')
    op.drop_table('case_fact_day')
    for name in DEADLINES:
        op.drop_index(f'ix_facts_overdue_{name}', table_name='case_facts')
    with op.batch_alter_table('case_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_facts_key_registered_top')
        batch_op.drop_column('registered_day')
