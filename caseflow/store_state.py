"""The workflow state table: a case's workflow task tree stored one task per row (part of
:mod:`caseflow.store`, which re-exports it). :mod:`caseflow._engine.state_rows` is its one writer.

``process_instance.state`` keeps the instance-level part of the serialization (the workflow
dict and each sub-process dict with empty ``tasks``); each task's dict, in the workflow library's
serializer format, is a row here. An action rewrites only the rows of the tasks it changed.
:func:`split_state` and :func:`join_state` convert between the whole serialization and these
parts; they are plain JSON (no workflow library), so the schema migration uses them too.
"""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from caseflow.store import Base

TOP = ""  # the ``workflow`` of the top-level workflow's tasks (a sub-process's is its parent task id)


class WorkflowTask(Base):
    """One task of a case's workflow: its dict in the workflow library's serializer format, as JSON."""

    __tablename__ = "workflow_task"

    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the task's UUID
    workflow: Mapped[str] = mapped_column(String(36), default=TOP)  # TOP, or the sub-process's id
    seq: Mapped[int] = mapped_column(Integer)  # the order of the workflow's task mapping (parents first)
    body: Mapped[str] = mapped_column(Text)


def split_state(state: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]]]:
    """The instance-level part of a whole serialization and its tasks as (workflow, task id, task dict).

    The tasks come in the order of their mappings (top level first), which is the ``seq`` order.
    """
    skeleton = dict(state)
    tasks: list[tuple[str, str, dict[str, Any]]] = [(TOP, k, v) for k, v in (state.get("tasks") or {}).items()]
    skeleton["tasks"] = {}
    subprocesses = {}
    for sp_id, sub in (state.get("subprocesses") or {}).items():
        tasks.extend((sp_id, k, v) for k, v in (sub.get("tasks") or {}).items())
        subprocesses[sp_id] = dict(sub, tasks={})
    if "subprocesses" in state:
        skeleton["subprocesses"] = subprocesses
    return skeleton, tasks


def join_state(skeleton: dict[str, Any], rows: list[tuple[str, str, str]]) -> dict[str, Any]:
    """The whole serialization from its instance-level part and (workflow, task id, body) rows in seq order.

    A skeleton that still holds its tasks (stored before task rows existed) is whole already.
    """
    if not rows:
        return skeleton
    bodies: dict[str, list[str]] = {}
    for workflow, task_id, body in rows:
        bodies.setdefault(workflow, []).append(f'"{task_id}":{body}')
    for workflow, parts in bodies.items():
        tasks = json.loads("{" + ",".join(parts) + "}")
        if workflow == TOP:
            skeleton["tasks"] = tasks
        else:
            skeleton["subprocesses"][workflow]["tasks"] = tasks
    return skeleton
