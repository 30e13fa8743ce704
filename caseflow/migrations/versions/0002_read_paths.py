"""read paths: drop the unused process_instance.parent_id, keep state last, list indexes

Pages never read ``process_instance.state`` (the serialized workflow, tens of KB). SQLite keeps
a row's columns in order and a large value spills into overflow pages, so every column after
``state`` cost a walk through them: the table rebuild that drops ``parent_id`` (SQLite cannot
drop a column with a foreign key in place) also moves ``state`` to the end. PostgreSQL keeps
large values out of line anyway and just drops the column.

Indexes: one process's cases newest first (the case list by id, the complaint register by
creation time), the register's data filters and the values it offers for them, and every
ready task by deadline (an admin's inbox and the task counts of every page).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 12:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# process_instance columns after this revision, in order (state last)
COLUMNS = ('id', 'definition_id', 'process_key', 'business_key', 'status', 'serializer_version', 'data',
           'ready_tasks', 'timers', 'trail', 'error', 'error_task', 'started_by', 'created_at', 'updated_at',
           'completed_at', 'row_version', 'state')
DATA_KEYS = ('kpi_class', 'urgency', 'responsible_dept')  # store.INDEXED_DATA_KEYS


def _data_text(dialect: str, key: str) -> sa.TextClause:
    """The expression of store.data_text(key), as each backend's queries spell it."""
    if dialect == 'sqlite':
        return sa.text(f"""CAST(JSON_EXTRACT(data, '$."{key}"') AS VARCHAR)""")
    return sa.text(f"(data ->> '{key}')")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    sqlite = dialect == 'sqlite'
    if sqlite:
        # The rebuild drops the old table while task, timer, audit and attachment rows still
        # point at its ids (the new table has the same ids). SQLite's procedure for it: foreign
        # keys off meanwhile (takes effect when no transaction is open yet, as when upgrading a
        # stored database; a new one is empty), checked below; Database.upgrade turns them on.
        op.execute('PRAGMA foreign_keys = OFF')
    with op.batch_alter_table('process_instance', recreate='always' if sqlite else 'auto',
                              partial_reordering=[COLUMNS] if sqlite else None) as batch_op:
        batch_op.drop_column('parent_id')
        batch_op.create_index('ix_instance_key_created', ['process_key', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_instance_key_id', ['process_key', 'id'], unique=False)
    if sqlite:
        broken = op.get_bind().exec_driver_sql('PRAGMA foreign_key_check').fetchall()
        if broken:
            raise RuntimeError(f'rows point at missing rows after rebuilding process_instance: {broken[:5]}')
    for key in DATA_KEYS:
        op.create_index(f'ix_instance_data_{key}', 'process_instance', ['process_key', _data_text(dialect, key)],
                        unique=False)
    op.create_index('ix_task_ready_due', 'human_task', ['sort_due', 'created_at', 'state'], unique=False,
                    sqlite_where=sa.text("state = 'ready'"), postgresql_where=sa.text("state = 'ready'"))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('PRAGMA foreign_keys = OFF')  # the table is rebuilt again (see upgrade)
    op.drop_index('ix_task_ready_due', table_name='human_task')
    for key in DATA_KEYS:
        op.drop_index(f'ix_instance_data_{key}', table_name='process_instance')
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.drop_index('ix_instance_key_id')
        batch_op.drop_index('ix_instance_key_created')
        batch_op.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_process_instance_parent_id', 'process_instance', ['parent_id'], ['id'])
