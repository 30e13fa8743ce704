"""workflow state per task: the ``workflow_task`` table, backfilled from ``process_instance.state``

Each task of a case's workflow state becomes a row (its dict in the serializer's format);
``process_instance.state`` keeps the instance-level part (the workflow and sub-process dicts
with empty ``tasks``). The backfill runs in batches of instances; the downgrade joins them back.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 17:40:00
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from caseflow.store_state import join_state, split_state

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

BATCH = 200  # instances per round trip: their states are read, split and written together

_instance = sa.table('process_instance', sa.column('id', sa.Integer), sa.column('state', sa.Text))
_task = sa.table('workflow_task', sa.column('instance_id', sa.Integer), sa.column('id', sa.String),
                 sa.column('workflow', sa.String), sa.column('seq', sa.Integer), sa.column('body', sa.Text))


def upgrade() -> None:
    op.create_table(
        'workflow_task',
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('workflow', sa.String(length=36), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id']),
        sa.PrimaryKeyConstraint('instance_id', 'id'),
    )
    conn = op.get_bind()
    last = 0
    while True:
        batch = conn.execute(sa.select(_instance.c.id, _instance.c.state).where(_instance.c.id > last)
                             .order_by(_instance.c.id).limit(BATCH)).all()
        if not batch:
            break
        last = batch[-1].id
        rows: list[dict] = []
        skeletons: list[dict] = []
        for instance_id, state in batch:
            try:
                whole = json.loads(state) if state else None
            except ValueError:
                whole = None  # not the workflow serializer's JSON: left as it is
            if not isinstance(whole, dict) or not whole.get("tasks"):
                continue
            skeleton, tasks = split_state(whole)
            rows.extend(dict(instance_id=instance_id, id=task_id, workflow=workflow, seq=seq,
                             body=json.dumps(body, separators=(",", ":")))
                        for seq, (workflow, task_id, body) in enumerate(tasks))
            skeletons.append(dict(_id=instance_id, state=json.dumps(skeleton)))
        if rows:
            conn.execute(sa.insert(_task), rows)
        if skeletons:
            conn.execute(sa.update(_instance).where(_instance.c.id == sa.bindparam('_id'))
                         .values(state=sa.bindparam('state')), skeletons)


def downgrade() -> None:
    conn = op.get_bind()
    last = 0
    while True:
        ids = list(conn.execute(sa.select(_instance.c.id).where(_instance.c.id > last)
                                .order_by(_instance.c.id).limit(BATCH)).scalars())
        if not ids:
            break
        last = ids[-1]
        states = dict(conn.execute(sa.select(_instance.c.id, _instance.c.state).where(_instance.c.id.in_(ids))).all())
        found: dict[int, list[tuple[str, str, str]]] = {}
        for row in conn.execute(sa.select(_task.c.instance_id, _task.c.workflow, _task.c.id, _task.c.body)
                                .where(_task.c.instance_id.in_(ids)).order_by(_task.c.instance_id, _task.c.seq)):
            found.setdefault(row.instance_id, []).append((row.workflow, row.id, row.body))
        whole = [dict(_id=i, state=json.dumps(join_state(json.loads(states[i]), parts)))
                 for i, parts in found.items()]
        if whole:
            conn.execute(sa.update(_instance).where(_instance.c.id == sa.bindparam('_id'))
                         .values(state=sa.bindparam('state')), whole)
    op.drop_table('workflow_task')
