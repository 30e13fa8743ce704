"""The summary tables of the KPI reports (:mod:`caseflow.store_reports`), kept in step with ``case_facts``.

Every figure is defined once, as an SQL expression over a facts row (:data:`MEASURES`): a
summary row holds its sum over the cases of its key. :func:`rebuild` fills the tables from
``case_facts`` with ``INSERT … SELECT … GROUP BY``; :func:`contribution` is the same sum
over one case's row, read before and after its facts change, so :func:`apply` adds the
difference (``INSERT … ON CONFLICT DO UPDATE``, atomic on SQLite and PostgreSQL). The facts
writer (:func:`caseflow.case_facts.upsert`) calls these in the save's transaction.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    and_,
    case,
    delete,
    func,
    inspect,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from caseflow import store
from caseflow.store_reports import (
    DISPOSITION_KINDS,
    FACT_STAGES,
    SUMMARY_COUNTS,
    SUMMARY_FLOATS,
    TOP_DIMENSIONS,
    CaseFactDay,
    CaseFactTop,
)

F = store.CaseFacts
DAY: Table = CaseFactDay.__table__  # type: ignore[assignment]  # declarative tables are Tables
TOP: Table = CaseFactTop.__table__  # type: ignore[assignment]
FACTS: Table = F.__table__  # type: ignore[assignment]
DAY_KEY = ("process_key", "day", "department", "kpi_class")
TOP_KEY = ("process_key", "month", "dimension", "value")
#: Bands of the per-complaint ratio (loss ÷ delivery amount): (name, low, high) with [low, high).
RATIO_BANDS: tuple[tuple[str, float, float | None], ...] = (
    ("lt_0.5pct", 0.0, 0.005), ("0.5_1pct", 0.005, 0.01), ("1_2pct", 0.01, 0.02), ("2_5pct", 0.02, 0.05),
    ("ge_5pct", 0.05, None))


def band_column(name: str) -> str:
    """The summary column of a ratio band (``0.5_1pct`` → ``band_0_5_1pct``)."""
    return "band_" + name.replace(".", "_")


def has_ratio() -> ColumnElement[bool]:
    """A complaint with a loss and a positive delivery amount (it has a complaint ratio)."""
    return and_(F.loss_amount.is_not(None), F.delivery_amount.is_not(None), F.delivery_amount > 0)


def _if(condition: ColumnElement[bool], value: Any = 1) -> Any:
    return case((condition, value), else_=0)


def measures() -> dict[str, Any]:
    """Each summary column's value for one facts row, as an SQL expression (summed per key)."""
    ratio = F.loss_amount / F.delivery_amount
    out: dict[str, Any] = {
        "n": literal(1), "weight": func.coalesce(F.kpi_weight, 0), "ratio_cases": _if(has_ratio()),
        "loss": _if(has_ratio(), F.loss_amount), "delivery": _if(has_ratio(), F.delivery_amount),
        "esc_manager": F.escalations_manager, "esc_gm": F.escalations_gm,
        "satisfied_yes": _if(F.satisfied.is_(True)), "satisfied_no": _if(F.satisfied.is_(False)),
        "warranty_in": _if(F.in_warranty.is_(True)), "warranty_out": _if(F.in_warranty.is_(False)),
        "chargeable_yes": _if(F.chargeable.is_(True)), "chargeable_no": _if(F.chargeable.is_(False)),
        "fee_cases": _if(F.fee.is_not(None)), "fee": func.coalesce(F.fee, 0.0),
        "turnaround_cases": _if(F.turnaround_days.is_not(None)), "turnaround_days": func.coalesce(F.turnaround_days, 0),
    }
    for name, low, high in RATIO_BANDS:
        band = and_(has_ratio(), ratio >= low) if high is None else and_(has_ratio(), ratio >= low, ratio < high)
        out[band_column(name)] = _if(band)
    for name in store.FACT_DEADLINES:
        for state in ("met", "late", "open"):
            out[f"{name}_{state}"] = _if(getattr(F, name) == state)
    for level in range(1, 6):
        out[f"sat_{level}"] = _if(F.satisfaction == level)
    for stage in FACT_STAGES:
        out[f"stage_{stage}"] = _if(F.stage == stage)
    for kind in DISPOSITION_KINDS:
        qty, amount = getattr(F, f"disp_{kind}_qty"), getattr(F, f"disp_{kind}_amount")
        out[f"disp_{kind}_cases"] = _if(or_(qty > 0, amount > 0))
        out[f"disp_{kind}_qty"] = func.coalesce(qty, 0)
        out[f"disp_{kind}_amount"] = func.coalesce(amount, 0.0)
    out["sat_first"] = _if(and_(F.satisfied.is_(True), func.coalesce(F.follow_ups, 0) == 0))
    out["sat_after_follow_up"] = _if(and_(F.satisfied.is_(True), F.follow_ups > 0))
    out["fee_declined"] = _if(F.fee_decision == "declined")
    out["outcome_returned_unrepaired"] = _if(F.repair_outcome == "returned_unrepaired")
    out["outcome_abandoned"] = _if(F.repair_outcome == "abandoned")
    for nth in (1, 2, 3):
        out[f"nth_{nth}"] = _if(F.year_seq == nth)
    out["nth_4plus"] = _if(F.year_seq >= 4)
    assert set(out) == set(SUMMARY_COUNTS) | set(SUMMARY_FLOATS), "every summary column has its measure"
    return out


def _day_select(where: ColumnElement[bool] | None = None, only: set[str] | None = None) -> Any:
    parts = {name: expr for name, expr in measures().items() if only is None or name in only}
    dims = [F.process_key, F.registered_day.label("day"), func.coalesce(F.department, "").label("department"),
            func.coalesce(F.kpi_class, "").label("kpi_class")]
    stmt = select(*dims, func.max(F.registered_month).label("month"),
                  *(func.sum(expr).label(name) for name, expr in parts.items())).group_by(*dims)
    return stmt if where is None else stmt.where(where)


def _top_select(dimension: str, where: ColumnElement[bool] | None = None) -> Any:
    column = getattr(F, dimension)
    value = func.coalesce(column, literal_column("''"))  # no bound parameter: PostgreSQL must see one expression
    dims = [F.process_key, F.registered_month.label("month"), literal(dimension).label("dimension"),
            value.label("value")]
    stmt = (select(*dims, func.count().label("n"), func.coalesce(func.sum(F.kpi_weight), 0).label("weight"))
            .group_by(F.process_key, F.registered_month, value))
    return stmt if where is None else stmt.where(where)


def rebuild(conn: Connection, process_key: str | None = None) -> None:
    """Fill both summary tables again from ``case_facts`` (of ``process_key`` when given)."""
    where = F.process_key == process_key if process_key else None
    conn.execute(delete(DAY).where(DAY.c.process_key == process_key) if process_key else delete(DAY))
    conn.execute(delete(TOP).where(TOP.c.process_key == process_key) if process_key else delete(TOP))
    # A migration may call this at an older revision: only the summary columns it has are summed.
    day = _day_select(where, {c["name"] for c in inspect(conn).get_columns("case_fact_day")})
    conn.execute(DAY.insert().from_select([c.name for c in day.selected_columns], day, include_defaults=False))
    for dimension in TOP_DIMENSIONS:
        top = _top_select(dimension, where)
        conn.execute(TOP.insert().from_select([c.name for c in top.selected_columns], top))


Contribution = dict[str, list[dict[str, Any]]]


def contribution(conn: Connection, instance_id: int) -> Contribution:
    """What one case's facts row adds to each summary table (nothing without a row)."""
    mine = F.instance_id == instance_id
    out: Contribution = {"day": [dict(r._mapping) for r in conn.execute(_day_select(mine))], "top": []}
    for dimension in TOP_DIMENSIONS:
        out["top"] += [dict(r._mapping) for r in conn.execute(_top_select(dimension, mine))]
    return out


def _add(conn: Connection, table: Table, key: tuple[str, ...], rows: Mapping[tuple, dict[str, Any]]) -> None:
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
    sums = [c.name for c in table.columns if c.name not in key and c.name != "month"]
    for values in rows.values():
        if all(not values[name] for name in sums):
            continue
        stmt = insert.values(**values).on_conflict_do_update(
            index_elements=list(key), set_={name: table.c[name] + insert.excluded[name] for name in sums})
        conn.execute(stmt)
    emptied = [and_(*(table.c[k] == values[k] for k in key)) for values in rows.values()]
    for condition in emptied:
        conn.execute(delete(table).where(condition, table.c.n <= 0))


def _difference(before: list[dict[str, Any]], after: list[dict[str, Any]],
                key: tuple[str, ...]) -> dict[tuple, dict[str, Any]]:
    out: dict[tuple, dict[str, Any]] = {}
    for sign, rows in ((-1, before), (1, after)):
        for row in rows:
            k = tuple(row[name] for name in key)
            target = out.setdefault(k, {name: (row[name] if name in key or name == "month" else 0) for name in row})
            for name, value in row.items():
                if name not in key and name != "month":
                    target[name] += sign * (value or 0)
    return out


def apply(conn: Connection, before: Contribution, after: Contribution) -> None:
    """Move the summary tables from one case's ``before`` contribution to its ``after`` one."""
    _add(conn, DAY, DAY_KEY, _difference(before["day"], after["day"], DAY_KEY))
    _add(conn, TOP, TOP_KEY, _difference(before["top"], after["top"], TOP_KEY))
