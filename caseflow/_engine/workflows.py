"""Live workflows: the cache of recently saved ones, and restoring one from its rows.

A live workflow restored or saved through here keeps its stored form (the task rows as
written, :class:`state_rows.Stored`), so that its next save writes only the rows it changed.
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy.orm import Session

from caseflow._engine import adapters, scripting, state_rows, task_state, tree_walks
from caseflow._engine.rows import Case
from caseflow._engine.specs import LoadedSpec
from caseflow._engine.state_rows import Stored


class WorkflowCache:
    """Live workflows of recently saved instances, keyed by the row version they were saved as.

    A hit skips deserialization; the random row version token means a rolled-back save can
    never be mistaken for a committed one. Entries are taken out while in use.
    """

    def __init__(self, size: int = 2000) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[int, tuple[str, BpmnWorkflow]] = OrderedDict()
        self.size = size

    def take(self, instance_id: int, row_version: str) -> BpmnWorkflow | None:
        with self._lock:
            item = self._items.pop(instance_id, None)
        if item is not None and item[0] == row_version:
            return item[1]
        return None

    def put(self, instance_id: int, row_version: str, wf: BpmnWorkflow) -> None:
        with self._lock:
            self._items[instance_id] = (row_version, wf)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


WORKFLOWS = WorkflowCache()
_STORED: weakref.WeakKeyDictionary[BpmnWorkflow, Stored] = weakref.WeakKeyDictionary()


def restore(session: Session, case: Case, loaded: LoadedSpec) -> BpmnWorkflow:
    """The instance's live workflow: from the cache when it is current, else deserialized from its rows."""
    assert case.id is not None and case.row_version is not None
    wf = WORKFLOWS.take(case.id, case.row_version)
    if wf is not None:
        return wf
    whole, stored = state_rows.load(session, case.id)
    current = whole.get(adapters.SERIALIZER.VERSION_KEY, adapters.SERIALIZER_VERSION) == adapters.SERIALIZER_VERSION
    wf = fresh(whole, loaded)
    if stored is not None and current:  # rows of another serializer version are rewritten whole
        bound = task_state.bind(wf, stored)
        if bound is not None:
            _STORED[wf] = bound
    return wf


def stored_of(wf: BpmnWorkflow) -> Stored | None:
    """The stored form ``wf`` was restored or last saved as (None: its next save writes it whole)."""
    return _STORED.pop(wf, None)


def saved(case_id: int, row_version: str, wf: BpmnWorkflow, stored: Stored) -> None:
    """Keep ``wf`` (just saved as ``stored`` with version token ``row_version``) for the next action."""
    _STORED[wf] = stored
    WORKFLOWS.put(case_id, row_version, wf)


def fresh(state: str | dict, loaded: LoadedSpec) -> BpmnWorkflow:
    """Deserialize stored state against the cached spec (never the cached live object)."""
    return adapters.restore(state, loaded.spec, loaded.subprocess_specs, scripting.SCRIPT_ENGINE)


def new(loaded: LoadedSpec) -> BpmnWorkflow:
    """A new workflow of a version, not yet started."""
    return tree_walks.CaseWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=scripting.SCRIPT_ENGINE)
