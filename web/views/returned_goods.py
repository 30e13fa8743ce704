"""A complaint's returned-goods calls on its case page and printouts (PRODUCT.md §10).

The complaint's ``record_returned_goods`` step appends one record per call of the returned-goods
process to ``returned_goods_records`` (``seq`` 1, 2, …). Each call has its own test record sheet at
``/cases/<id>/print/rg-<n>`` (``/cases/<id>/print/rg`` is the latest call's), printed from the
complaint's data with that call's record over it.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from markupsafe import escape

#: Record keys -> the data keys the test record sheet prints them under.
_SHEET_KEYS = {"outcome": "returned_goods_outcome", "disposition": "disposition_summary"}


def records(data: dict | None) -> list[dict]:
    """The returned-goods calls of a complaint, in order (records with a whole ``seq``)."""
    found = (data or {}).get("returned_goods_records")
    if not isinstance(found, list):
        return []
    return [r for r in found if isinstance(r, dict) and isinstance(r.get("seq"), int)
            and not isinstance(r.get("seq"), bool)]


class _CallLabel:
    """``Returned-goods test record · RG-…``, rendered in the reader's language."""

    def __init__(self, label: Any, number: Any) -> None:
        self.label, self.number = label, number

    def __str__(self) -> str:
        return f"{self.label} · {self.number}" if self.number else str(self.label)

    def __html__(self) -> str:
        return str(escape(str(self)))


def print_entries(label: Any, data: dict | None) -> list[tuple[str, Any]]:
    """The test record sheets of a complaint: one (``rg-<seq>``, label) per call."""
    return [(f"rg-{r['seq']}", _CallLabel(label, r.get("returned_goods_no"))) for r in records(data)]


def _moment(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def print_view(data: dict, seq: int | None) -> tuple[dict, dt.datetime | None, dt.datetime | None] | None:
    """What call ``seq``'s sheet prints (``None``: the latest call): the complaint's data with the
    call's record over it, and the time window of that call's tasks (after the previous call ended,
    until this one ended). ``None`` when the complaint has no such call."""
    calls = records(data)
    if not calls:
        return None
    chosen = calls[-1] if seq is None else next((r for r in calls if r["seq"] == seq), None)
    if chosen is None:
        return None
    earlier = [r for r in calls if r["seq"] < chosen["seq"]]
    merged = dict(data)
    merged.update({_SHEET_KEYS.get(k, k): v for k, v in chosen.items() if k not in ("seq", "ended_at", "lines")})
    return merged, (_moment(earlier[-1].get("ended_at")) if earlier else None), _moment(chosen.get("ended_at"))
