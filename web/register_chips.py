"""The chips of the register's filters that the dashboard's links set (customer, stage, deadline,
disposition, satisfied, Nth complaint …): each names the filter and its value in the user's language
and links to the same list without it."""
from __future__ import annotations

from dataclasses import dataclass

from web.labels import pick, role_label
from web.reports import figure_tables
from web.reports.tables import BAND_TEXTS, DEADLINE_TEXTS, LEVEL_TEXTS, STAGE_TEXTS

#: Each chip's filter name: (en, zh), in the order the chips are shown.
NAMES: dict[str, tuple[str, str]] = {
    "customer": ("Customer", "客户"), "product_model": ("Product model", "产品型号"),
    "complaint_type": ("Complaint type", "投诉类型"), "stage": ("Stage", "阶段"),
    "satisfaction": ("Satisfaction", "满意度"), "deadline": ("Deadline", "期限"),
    "ratio_band": ("Complaint ratio", "投诉比率"), "escalated": ("Escalated to", "升级至"),
    "disposition": ("Disposition (approved plan)", "处置方式(已批准方案)"),
    "satisfied": ("Satisfied", "满意"), "nth": ("Complaint of the year", "本年度第几次"),
}
DEADLINE_STATE_TEXTS = {"met": ("met", "按时"), "late": ("late", "超时完成"), "open": ("open", "未完成"),
                        "overdue": ("overdue now", "当前已超期")}
SATISFIED_TEXTS = {"yes": ("Satisfied", "满意"), "no": ("Not satisfied", "不满意"),
                   "first_feedback": ("At the first feedback", "首次反馈即满意"),
                   "after_follow_up": ("Only after follow-up", "跟进后才满意"),
                   "unknown": ("No feedback yet", "尚无反馈")}


@dataclass(frozen=True)
class Chip:
    name: str  # the filter's words
    value: str  # its value's words
    key: str  # the query argument
    without: dict[str, str]  # the list's arguments without this filter


def _value(key: str, value: str, args: dict[str, str]) -> str:
    tables: dict[str, dict[str, tuple[str, str]]] = {
        "stage": STAGE_TEXTS, "satisfaction": LEVEL_TEXTS, "disposition": {
            **figure_tables.KIND_TEXTS, "any": ("Any kind", "任意方式")},
        "satisfied": SATISFIED_TEXTS, "nth": figure_tables.NTH_TEXTS}
    if key in tables:
        return pick(*tables[key][value]) if value in tables[key] else value
    if key == "deadline":
        state = args.get("deadline_state", "")
        words = pick(*DEADLINE_TEXTS[value]) if value in DEADLINE_TEXTS else value
        return f"{words}: {pick(*DEADLINE_STATE_TEXTS[state])}" if state in DEADLINE_STATE_TEXTS else words
    if key == "ratio_band":
        return BAND_TEXTS.get(value, value)
    if key == "escalated":
        return role_label(value)
    return value


def chips(args: dict[str, str]) -> list[Chip]:
    """The chips of the facts filters set in the register's arguments ``args`` (``RegisterFilter.as_args``)."""
    out = []
    for key, name in NAMES.items():
        value = args.get(key)
        if not value:
            continue
        dropped = {key, "deadline_state"} if key == "deadline" else {key}
        out.append(Chip(pick(*name), _value(key, value, args), key,
                        {k: v for k, v in args.items() if k not in dropped}))
    return out
