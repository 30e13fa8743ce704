"""Tables of row data on case and task pages (web/casefile.py ``table_of``): which columns get a total."""
from __future__ import annotations

import json
from pathlib import Path

from web.casefile import table_of
from web.labels import LabelBook

PLAN = Path(__file__).resolve().parents[2] / "processes" / "complaint" / "complaint_resolution_plan.schema.json"
LINES = [{"kind": "return", "quantity": 10, "amount": 1200.0},
         {"kind": "discount", "quantity": 50, "amount": 300.0}]


def _book(schema: dict) -> LabelBook:
    book = LabelBook()
    book.add_schema(schema)
    return book


def test_the_disposition_lines_total_their_amounts_but_not_quantities_of_different_kinds(app):
    with app.test_request_context():
        table = table_of(_book(json.loads(PLAN.read_text(encoding="utf-8"))), "disposition_lines", LINES)
    totals = dict(zip([c for c, _label in table.columns], table.totals, strict=True))
    assert totals["quantity"] == "" and totals["kind"] == ""
    assert totals["amount"].replace(",", "").startswith("1500")


def test_x_total_turns_a_columns_total_on_or_off_against_the_default(app):
    rows = [{"unit_price": 2, "count": 3}, {"unit_price": 5, "count": 4}]
    schema = {"properties": {"items": {"type": "array", "items": {"type": "object", "properties": {
        "unit_price": {"type": "number", "x-total": True}, "count": {"type": "integer", "x-total": False}}}}}}
    with app.test_request_context():
        default = table_of(LabelBook(), "items", rows)
        chosen = table_of(_book(schema), "items", rows)
    assert default.totals == ["", "7"]  # a price is not summed by default, a count is
    assert chosen.totals == ["7", ""]
