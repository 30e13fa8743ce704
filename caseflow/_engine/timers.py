"""Timers: the due ones fire, each instance in its own transaction or savepoint."""
from __future__ import annotations

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy.orm import Session

from caseflow import clock
from caseflow._engine import records, rows, run, specs, sync, workflows
from caseflow._engine.errors import Conflict


def due_instance_ids(session: Session, limit: int = 100) -> list[int]:
    """Instances with a timer due now, soonest first (``fire_timers`` claims them one by one)."""
    return rows.due_timer_instances(session, clock.now(), limit)


def fire_timers(session: Session, instance_id: int, actor: str = "timer") -> bool:
    """Fire the due timers of one instance and run it on; True when something fired."""
    case = records.load_case(session, instance_id)
    assert case.id is not None
    if case.status in run.FINISHED:
        rows.replace_timers(session, case.id, [])
        return False
    due = rows.claim_due_timers(session, case.id, clock.now())
    if not due:
        return False
    loaded = specs.SPECS.get(session, case.definition)
    wf = workflows.restore(session, case, loaded)

    def steps(w: BpmnWorkflow) -> None:
        w.refresh_timers()
        w.do_engine_steps()

    events = [rows.event(actor, "timer_fired", t["name"], {"due_at": t["due_at"].isoformat()}) for t in due]
    run.run_steps(session, case, wf, actor, steps, events)
    sync.save(session, case, wf, loaded, actor, events)
    return True


def fire_due_timers(session: Session, limit: int = 100) -> int:
    """Fire every due timer (each instance in its own savepoint); returns instances advanced."""
    fired = 0
    for instance_id in due_instance_ids(session, limit):
        try:
            with session.begin_nested():
                fired += fire_timers(session, instance_id)
        except Conflict:
            continue  # someone changed it meanwhile; the next round sees the new state
    return fired
