"""Complaint grading (PRODUCT.md §3): Scheme Q (KPI class), Scheme S (urgency) and
Scheme R (special major complaint), DOMAIN.md §3.1–3.3.

Decisions:
* G-01 — the higher band of the functional and cosmetic counts wins; a defect rate below
  ``q_low_defect_rate`` lowers ``general`` to ``other`` but never lowers ``major``.
* Scheme Q applies to the ``q_types`` (quality-type complaints). For these both defect
  counts are required; for the other types it does not apply: ``kpi_class`` is
  ``other`` (weight 0) and ``grading_rules`` records ``SEV-Q-NA``.
* The defect rate is ``defect_rate`` when given, else (functional + cosmetic) ÷
  ``lot_size`` when ``lot_size`` > 0, else unknown (then only the counts decide).
* G-04 — ``r_inclusive`` (default true) makes exactly 10,000 RMB / 10 people a trigger.
* Flags, ``claim_amount`` and ``complainant_count`` that are absent count as "not
  triggered"; a value that is present but malformed is an error naming the field.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from service_tasks.registry import OperatorError, Param, operator
from service_tasks.values import flag, is_missing, to_bool, to_decimal, to_int, to_str, to_str_list

COMPLAINT_TYPES = ["quality", "transport", "packaging", "labeling", "quantity", "service", "other"]
QUALITY_TYPES = ["quality", "packaging", "labeling", "quantity"]
KPI_CLASSES = ("other", "general", "major")  # ascending

# Rule IDs (DOMAIN.md §3.1–3.3).
Q_GENERAL, Q_MAJOR, Q_OTHER, Q_NOT_APPLICABLE = "SEV-Q-01", "SEV-Q-02", "SEV-Q-03", "SEV-Q-NA"
S_SERIOUS, S_GENERAL, S_OCCASIONAL = "SEV-S-01", "SEV-S-02", "SEV-S-03"
R_LITIGATION, R_MEDIA, R_UNRESOLVED, R_COST, R_COLLECTIVE = (
    "SEV-R-01", "SEV-R-02", "SEV-R-03", "SEV-R-04", "SEV-R-05",
)


def complaint_type(data: dict, known: list[str]) -> str:
    """The normalised ``complaint_type`` (must be one of ``known``)."""
    value = data.get("complaint_type")
    if is_missing(value):
        raise OperatorError("complaint type is missing", field="complaint_type")
    ctype = to_str(value, "complaint_type").lower()
    if ctype not in known:
        raise OperatorError(f"unknown complaint type {ctype!r} (known: {', '.join(known)})",
                            field="complaint_type")
    return ctype


def _required_count(data: dict, key: str) -> int:
    value = data.get(key)
    if is_missing(value):
        raise OperatorError("required for a quality-type complaint", field=key)
    return to_int(value, key)


def _optional_count(data: dict, key: str) -> int | None:
    value = data.get(key)
    return None if is_missing(value) else to_int(value, key)


def defect_rate(data: dict, functional: int, cosmetic: int) -> Decimal | None:
    """``defect_rate`` (0–1) when given, else defects ÷ ``lot_size`` when > 0, else None."""
    given = data.get("defect_rate")
    if not is_missing(given):
        rate = to_decimal(given, "defect_rate")
        if rate > 1:
            raise OperatorError(f"must be a fraction between 0 and 1, got {rate}", field="defect_rate")
        return rate
    lot = _optional_count(data, "lot_size")
    if not lot:
        return None
    defects = functional + cosmetic
    if defects > lot:
        raise OperatorError(f"lot size {lot} is smaller than the {defects} defects", field="lot_size")
    return Decimal(defects) / Decimal(lot)


def _band(count: int, minor_min: int, major_min: int) -> int:
    """0 other, 1 general, 2 major."""
    return 2 if count >= major_min else 1 if count >= minor_min else 0


def scheme_q(data: dict, params: dict) -> tuple[str, str]:
    """(kpi_class, rule id) for a quality-type complaint."""
    f_minor = to_int(params["q_minor_functional"], "q_minor_functional")
    f_major = to_int(params["q_major_functional"], "q_major_functional")
    c_minor = to_int(params["q_minor_cosmetic"], "q_minor_cosmetic")
    c_major = to_int(params["q_major_cosmetic"], "q_major_cosmetic")
    if f_minor > f_major:
        raise OperatorError("must not exceed q_major_functional", field="q_minor_functional")
    if c_minor > c_major:
        raise OperatorError("must not exceed q_major_cosmetic", field="q_minor_cosmetic")
    low_rate = to_decimal(params["q_low_defect_rate"], "q_low_defect_rate")

    functional = _required_count(data, "functional_defect_qty")
    cosmetic = _required_count(data, "cosmetic_defect_qty")
    rate = defect_rate(data, functional, cosmetic)

    band = max(_band(functional, f_minor, f_major), _band(cosmetic, c_minor, c_major))
    if band == 2:
        return "major", Q_MAJOR
    if band == 0 or (rate is not None and rate < low_rate):
        return "other", Q_OTHER
    return "general", Q_GENERAL


def scheme_s(data: dict, ctype: str, params: dict) -> tuple[str, str]:
    """(urgency, rule id)."""
    functional_types = to_str_list(params["s_functional_serious_types"], "s_functional_serious_types")
    occasional_types = to_str_list(params["s_occasional_types"], "s_occasional_types")
    serious = (
        flag(data, "customer_requires_formal_report")
        or flag(data, "caused_line_stop")
        or flag(data, "repeat_issue")
    )
    if not serious and ctype in functional_types:
        functional = _optional_count(data, "functional_defect_qty")
        serious = bool(functional)
    if serious:
        return "serious", S_SERIOUS
    if ctype in occasional_types:
        return "occasional", S_OCCASIONAL
    return "general", S_GENERAL


def _reaches(value: Decimal, threshold: Decimal, inclusive: bool) -> bool:
    return value >= threshold if inclusive else value > threshold


def scheme_r(data: dict, params: dict) -> list[str]:
    """Rule ids of the special-major triggers that fired (empty: not special major)."""
    inclusive = to_bool(params["r_inclusive"], "r_inclusive")
    claim_threshold = to_decimal(params["r_claim_amount"], "r_claim_amount")
    people_threshold = to_int(params["r_complainants"], "r_complainants")
    fired: list[str] = []
    if flag(data, "litigation"):
        fired.append(R_LITIGATION)
    if flag(data, "media_exposure"):
        fired.append(R_MEDIA)
    if flag(data, "unresolved_overdue"):
        fired.append(R_UNRESOLVED)
    claim = data.get("claim_amount")
    if not is_missing(claim) and _reaches(to_decimal(claim, "claim_amount"), claim_threshold, inclusive):
        fired.append(R_COST)
    people = data.get("complainant_count")
    if not is_missing(people) and _reaches(
        Decimal(to_int(people, "complainant_count")), Decimal(people_threshold), inclusive
    ):
        fired.append(R_COLLECTIVE)
    return fired


def _weights(value: Any) -> dict[str, int]:
    if not isinstance(value, dict) or set(value) != set(KPI_CLASSES):
        raise OperatorError(f"needs exactly the keys {', '.join(KPI_CLASSES)}", field="kpi_weights")
    return {k: to_int(v, "kpi_weights") for k, v in value.items()}


@operator(
    "grade_complaint",
    params=[
        Param("q_major_functional", "int", 15,
              "Scheme Q: functional defects (pcs) from which a complaint is major (SEV-Q-02)."),
        Param("q_major_cosmetic", "int", 30,
              "Scheme Q: cosmetic defects (pcs) from which a complaint is major (SEV-Q-02)."),
        Param("q_minor_functional", "int", 5,
              "Scheme Q: functional defects (pcs) from which a complaint is general (SEV-Q-01)."),
        Param("q_minor_cosmetic", "int", 10,
              "Scheme Q: cosmetic defects (pcs) from which a complaint is general (SEV-Q-01)."),
        Param("q_low_defect_rate", "float", 0.01,
              "Scheme Q: a defect rate below this lowers general to other (SEV-Q-03)."),
        Param("q_types", "list", list(QUALITY_TYPES),
              "Complaint types graded by Scheme Q (others: kpi_class other, SEV-Q-NA)."),
        Param("kpi_weights", "dict", {"major": 2, "general": 1, "other": 0},
              "KPI weight per kpi_class (general-complaint units)."),
        Param("s_functional_serious_types", "list", ["quality"],
              "Scheme S: types where any functional defect makes the complaint serious."),
        Param("s_occasional_types", "list", ["quantity", "packaging", "labeling"],
              "Scheme S: types that are occasional when not serious (SEV-S-03)."),
        Param("r_claim_amount", "float", 10000,
              "Scheme R: claim amount (RMB) that makes a complaint special major (SEV-R-04)."),
        Param("r_complainants", "int", 10,
              "Scheme R: number of complainants that makes a complaint special major (SEV-R-05)."),
        Param("r_inclusive", "bool", True,
              "Scheme R: true = the threshold itself triggers (>=), false = only above it (>)."),
        Param("complaint_types", "list", list(COMPLAINT_TYPES), "Accepted values of complaint_type."),
    ],
)
def grade_complaint(data: dict, params: dict) -> dict:
    """Propose the grade of a complaint (PRODUCT §3; QA confirms it later).

    Inputs: ``complaint_type``; for quality-type complaints (``q_types``) the required
    ``functional_defect_qty`` and ``cosmetic_defect_qty``, and optionally ``defect_rate``
    (0–1) or ``lot_size`` (rate = defects ÷ lot size); optional ``claim_amount`` (RMB),
    ``complainant_count`` and the flags ``customer_requires_formal_report``,
    ``caused_line_stop``, ``repeat_issue``, ``litigation``, ``media_exposure``,
    ``unresolved_overdue`` (SEV-R-03, set by the 2-month timer). Absent flags are false.

    Outputs: ``kpi_class`` (major / general / other), ``kpi_weight``, ``urgency``
    (serious / general / occasional), ``special_major`` (bool) and ``grading_rules`` (the
    DOMAIN rule IDs that fired: SEV-Q-01/02/03, or SEV-Q-NA when Scheme Q does not apply
    to the type; SEV-S-01/02/03; SEV-R-01…05) and ``kpi_weights`` (the weight table used, so
    a later grade override weighs the confirmed class with the same parameter).

    Scheme Q: major if functional >= q_major_functional or cosmetic >= q_major_cosmetic;
    else other if defect rate < q_low_defect_rate or (functional < q_minor_functional and
    cosmetic < q_minor_cosmetic); else general. Scheme S: serious on formal report, line
    stop, repeat issue, or functional defects in a ``s_functional_serious_types``
    complaint; else occasional for ``s_occasional_types``; else general. Scheme R: special
    major on litigation, media exposure, claim >= r_claim_amount or complainants >=
    r_complainants (> when ``r_inclusive`` is false).
    Parameters: the thresholds above (defaults 15, 30, 5, 10, 0.01, 10000 RMB, 10 people,
    inclusive), ``kpi_weights`` (major 2, general 1, other 0), the type lists ``q_types``,
    ``s_functional_serious_types``, ``s_occasional_types`` and ``complaint_types``.
    """
    known = to_str_list(params["complaint_types"], "complaint_types")
    ctype = complaint_type(data, known)
    weights = _weights(params["kpi_weights"])
    q_types = to_str_list(params["q_types"], "q_types")

    if ctype in q_types:
        kpi_class, q_rule = scheme_q(data, params)
    else:
        kpi_class, q_rule = "other", Q_NOT_APPLICABLE
    urgency, s_rule = scheme_s(data, ctype, params)
    r_rules = scheme_r(data, params)
    return {
        "kpi_class": kpi_class,
        "kpi_weight": weights[kpi_class],
        "urgency": urgency,
        "special_major": bool(r_rules),
        "grading_rules": [q_rule, s_rule, *r_rules],
        "kpi_weights": weights,
    }
