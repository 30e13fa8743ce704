"""SpiffWorkflow's merge of task data, made copy-on-write: a finished task's data never changes later.

A task inherits its parent's data with ``DeepMerge.merge`` (a shallow copy per key), so a nested
mapping or list (``last_notice``, a table of parts) is one object shared by the parent, the task
and every task after it. Where paths meet (a join, the end of a process with a closed parallel
branch, a multi-instance task) the same merge then changes that shared object in place, and with
it the recorded data of tasks that finished long before. Caseflow replays each task's writes to
build the case data (:mod:`caseflow._engine.sync`), and a save that replays only the tasks whose
state changed would no longer agree with a replay of the whole tree.

:func:`install` replaces ``DeepMerge.merge`` and ``DeepMerge.merge_array`` by versions that give
the merging task the same result but copy a nested mapping or list before changing it, so the
objects other tasks hold are left as they were. Only a merge of differing nested values copies
(a task inheriting its parent's data copies nothing more than before).
"""
from __future__ import annotations

from copy import copy
from typing import Any

from SpiffWorkflow.util.deep_merge import DeepMerge

_MUTABLE = (dict, list, set)


def merge(a: dict, b: dict, path: list[str] | None = None) -> dict:
    """Merge ``b`` into ``a`` as ``DeepMerge.merge`` does (``a`` is changed and returned); a nested
    mapping or list of ``a`` that changes is replaced by a changed copy, never changed in place."""
    path = path or []
    for key in b:
        new = b[key]
        if key in a:
            old = a[key]
            if old == new:
                continue
            if isinstance(old, dict) and isinstance(new, dict):
                a[key] = merge(copy(old), new, [*path, str(key)])
                continue
            if isinstance(old, list) and isinstance(new, list):
                merged = list(old)
                merge_array(merged, new, [*path, str(key)])
                a[key] = merged
                continue
        a[key] = copy(new) if isinstance(new, _MUTABLE) else new
    return a


def merge_array(a: list, b: list, path: list[str] | None = None) -> None:
    """Merge list ``b`` into list ``a`` in place as ``DeepMerge.merge_array`` does (``a`` must be the
    caller's own list); a mapping item that changes is replaced by a changed copy."""
    path = path or []
    seen_hashable: set[Any] = set()
    seen_unhashable: list[Any] = []
    for item in a:
        try:
            seen_hashable.add(item)
        except TypeError:
            seen_unhashable.append(item)
    for index, value in enumerate(b):
        if isinstance(value, dict):
            if len(a) > index:
                old = a[index]
                a[index] = merge(copy(old), value, [*path, str(index)]) if isinstance(old, dict) else copy(value)
            else:
                a.append(copy(value))
            continue
        try:
            if value in seen_hashable:
                continue
            seen_hashable.add(value)
        except TypeError:
            if value in seen_unhashable:
                continue
            seen_unhashable.append(value)
        a.append(copy(value) if isinstance(value, _MUTABLE) else value)
    del a[len(b):]  # as SpiffWorkflow's: in the end the two lists match in length


def install() -> None:
    """Make SpiffWorkflow's task data merges copy-on-write (idempotent)."""
    DeepMerge.merge = staticmethod(merge)  # type: ignore[method-assign,assignment]
    DeepMerge.merge_array = staticmethod(merge_array)  # type: ignore[method-assign,assignment]
