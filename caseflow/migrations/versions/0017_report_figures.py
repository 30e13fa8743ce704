"""report figures: cost per disposition kind, satisfied after follow-up, declined and abandoned
repairs, the customer's Nth complaint of the year; the waiting diagram's case count index

``case_facts`` gains the approved plan's quantity and amount per disposition kind
(``disp_<kind>_qty`` / ``disp_<kind>_amount``), the follow-ups of the not-satisfied loop
(``follow_ups``), the customer's Nth complaint of the registration year (``year_seq``) and the
repair's outcome and fee answer (``repair_outcome``, ``fee_decision``); ``case_fact_day`` their
sums. Existing facts are derived again from the stored instance data and task rows (in batches of
500 cases, never deserializing a workflow) and the summaries summed from them.
``process_instance`` gets ``(definition_id, created_at, status)``: the waiting diagram counts a
version's cases of a period from the index alone.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 21:10:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

KINDS = ('return', 'exchange', 'repair', 'discount', 'compensation', 'make_up_shipment', 'claim', 'recall')
FACT_INTS = (*(f'disp_{kind}_qty' for kind in KINDS), 'follow_ups', 'year_seq')
FACT_FLOATS = tuple(f'disp_{kind}_amount' for kind in KINDS)
FACT_TEXTS = (('repair_outcome', 30), ('fee_decision', 20))
DAY_COUNTS = (*(f'disp_{kind}_{part}' for kind in KINDS for part in ('cases', 'qty')),
              'sat_first', 'sat_after_follow_up', 'fee_declined', 'outcome_returned_unrepaired', 'outcome_abandoned',
              'nth_1', 'nth_2', 'nth_3', 'nth_4plus')
DAY_FLOATS = tuple(f'disp_{kind}_amount' for kind in KINDS)


def upgrade() -> None:
    with op.batch_alter_table('case_facts', schema=None) as batch_op:
        for name in FACT_INTS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))
        for name in FACT_FLOATS:
            batch_op.add_column(sa.Column(name, sa.Float(), nullable=True))
        for name, length in FACT_TEXTS:
            batch_op.add_column(sa.Column(name, sa.String(length=length), nullable=True))
    with op.batch_alter_table('case_fact_day', schema=None) as batch_op:
        for name in DAY_COUNTS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default='0'))
        for name in DAY_FLOATS:
            batch_op.add_column(sa.Column(name, sa.Float(), nullable=False, server_default='0'))
    op.create_index('ix_instance_definition_created', 'process_instance', ['definition_id', 'created_at', 'status'])
    # The facts of the cases already stored again (with the new columns), then their sums.
    from caseflow import case_facts

    case_facts.rebuild(Session(bind=op.get_bind()))


def downgrade() -> None:
    op.drop_index('ix_instance_definition_created', table_name='process_instance')
    with op.batch_alter_table('case_fact_day', schema=None) as batch_op:
        for name in (*DAY_COUNTS, *DAY_FLOATS):
            batch_op.drop_column(name)
    with op.batch_alter_table('case_facts', schema=None) as batch_op:
        for name in (*FACT_INTS, *FACT_FLOATS, *(n for n, _l in FACT_TEXTS)):
            batch_op.drop_column(name)
