"""Counting cases by a data value, for operators that need a history (``count_cases`` in the
operator context, :class:`caseflow._engine.scripting.RunContext`)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from caseflow import store


def count_cases(session: Session, process_key: str, data_key: str, value: str, start: dt.datetime,
                end: dt.datetime, exclude_business_key: str | None = None) -> int:
    """Cases of ``process_key`` created in ``[start, end)`` whose data ``data_key`` is ``value``
    (leading and trailing blanks ignored), without the case numbered ``exclude_business_key``."""
    if not data_key.isidentifier():
        raise ValueError(f"not a plain data key: {data_key!r}")
    instance = store.ProcessInstance
    stmt = (select(func.count()).select_from(instance)
            .where(instance.process_key == process_key, instance.created_at >= start, instance.created_at < end,
                   func.trim(instance.data[data_key].as_string()) == value.strip()))
    if exclude_business_key:
        stmt = stmt.where(or_(instance.business_key.is_(None), instance.business_key != exclude_business_key))
    return int(session.execute(stmt).scalar_one())
