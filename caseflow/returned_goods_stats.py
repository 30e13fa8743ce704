"""Returned-goods defect statistics (PRODUCT.md §10 step 5, MLP §4.2.4): the one writer of
``returned_goods_defect`` and the dashboard's query of it.

:func:`derive` reads the defect phenomena of a case's data: the complaint's calls
(``returned_goods_records``, one record per call) or, for a case of the returned-goods process
itself, its ``returned_goods_result``. Each phenomenon of each test becomes a row with the product
model and the test day. :func:`write` brings a case's rows in step after each save (called by the
engine's facts writer, :mod:`caseflow._engine.facts`); :func:`rebuild` derives every stored case's
rows again (migration ``0015``, and the recount test). :func:`defects` sums them for the KPI
dashboard: units per phenomenon by product model and month. Below the engine, like the store.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, select
from sqlalchemy.orm import Session

from caseflow import store

_ROWS: Table = store.ReturnedGoodsDefect.__table__  # type: ignore[assignment]  # declarative tables are Tables
_CASE: Table = store.ProcessInstance.__table__  # type: ignore[assignment]
BATCH = 500  # cases per query when rebuilding
_DELETE = delete(_ROWS).where(_ROWS.c.instance_id == bindparam("iid"))
_INSERT = insert(_ROWS)
#: The data keys the rows come from: a case holding neither has none (its save costs no statement).
SOURCE_KEYS = ("returned_goods_records", "returned_goods_result")
_TEXT_MAX = 200


def _day(value: Any) -> str | None:
    """The ISO day of a date (or date-time) text, None when it is not one."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        return None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _tests(data: Mapping[str, Any]) -> list[tuple[int, Mapping[str, Any]]]:
    """(call seq, record) of every returned-goods test in a case's data (seq 0: a case of its own)."""
    calls = data.get("returned_goods_records")
    if isinstance(calls, list):
        return [(r["seq"], r) for r in calls if isinstance(r, Mapping) and _count(r.get("seq"))]
    own = data.get("returned_goods_result")
    return [(0, own)] if isinstance(own, Mapping) else []


def derive(process_key: str, data: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The statistics rows of one case (without ``instance_id``): one per phenomenon and test."""
    rows: list[dict[str, Any]] = []
    for seq, record in _tests(data or {}):
        phenomena = record.get("defects_by_phenomenon")
        day = _day(record.get("tested_date")) or _day(record.get("ended_at"))
        if not isinstance(phenomena, Mapping) or day is None:
            continue
        model = record.get("product_model")
        number = record.get("returned_goods_no")
        for name, quantity in phenomena.items():
            units = _count(quantity)
            if not isinstance(name, str) or not name.strip() or units is None:
                continue
            rows.append({"process_key": process_key, "call_seq": seq,
                         "returned_goods_no": number[:40] if isinstance(number, str) else "",
                         "product_model": model[:_TEXT_MAX] if isinstance(model, str) else "",
                         "day": day, "month": day[:7], "phenomenon": name.strip()[:_TEXT_MAX], "quantity": units})
    return rows


def write(session: Session, instance_id: int, process_key: str, data: Mapping[str, Any] | None) -> None:
    """Replace the statistics rows of one case by those its data gives now (inside the save). A case
    whose data holds none of :data:`SOURCE_KEYS` never had rows (the engine only adds data keys, and a
    correction sets a value, never removes the key): nothing is written for it."""
    if not data or not any(key in data for key in SOURCE_KEYS):
        return
    conn = session.connection()
    conn.execute(_DELETE, {"iid": instance_id})
    rows = derive(process_key, data)
    if rows:
        conn.execute(_INSERT, [{**row, "instance_id": instance_id} for row in rows])


def rebuild(session: Session) -> int:
    """Derive the statistics rows of every stored case again; returns the rows written."""
    conn = session.connection()
    conn.execute(delete(_ROWS))
    written, last = 0, 0
    while True:
        batch = conn.execute(select(_CASE.c.id, _CASE.c.process_key, _CASE.c.data)
                             .where(_CASE.c.id > last).order_by(_CASE.c.id).limit(BATCH)).all()
        if not batch:
            return written
        rows = [{**row, "instance_id": iid} for iid, key, data in batch
                for row in derive(key, data if isinstance(data, Mapping) else None)]
        if rows:
            conn.execute(insert(_ROWS), rows)
        written += len(rows)
        last = batch[-1][0]


@dataclass
class DefectStats:
    """Units per defect phenomenon: ``rows`` (product model, month, phenomenon, units) and the totals."""

    rows: list[tuple[str, str, str, int]] = field(default_factory=list)
    by_phenomenon: list[tuple[str, int]] = field(default_factory=list)
    total: int = 0


def defects(session: Session, date_from: dt.date, date_to: dt.date, product_model: str | None = None,
            limit: int = 200, scope: tuple[str, ...] | None = None) -> DefectStats:
    """The dashboard's figures: units per phenomenon by product model and month of the test, for the
    tests on days ``date_from``..``date_to`` (both included), of one product model when given; with
    ``scope``, only of the cases of those departments (a department head's dashboard)."""
    where = [_ROWS.c.day >= date_from.isoformat(), _ROWS.c.day <= date_to.isoformat()]
    if product_model:
        where.append(_ROWS.c.product_model == product_model)
    if scope is not None:
        where.append(_ROWS.c.instance_id.in_(select(store.CaseFacts.instance_id)
                                             .where(store.CaseFacts.department.in_(scope))))
    units = func.sum(_ROWS.c.quantity)
    rows = session.execute(
        select(_ROWS.c.product_model, _ROWS.c.month, _ROWS.c.phenomenon, units).where(*where)
        .group_by(_ROWS.c.product_model, _ROWS.c.month, _ROWS.c.phenomenon)
        .order_by(_ROWS.c.month.desc(), _ROWS.c.product_model, units.desc(), _ROWS.c.phenomenon).limit(limit)).all()
    totals = session.execute(select(_ROWS.c.phenomenon, units).where(*where).group_by(_ROWS.c.phenomenon)
                             .order_by(units.desc(), _ROWS.c.phenomenon)).all()
    by_phenomenon = [(name, int(n)) for name, n in totals]
    return DefectStats(rows=[(m, mo, p, int(n)) for m, mo, p, n in rows], by_phenomenon=by_phenomenon,
                       total=sum(n for _name, n in by_phenomenon))
