"""docs/rules.md maps every rule ID that PRODUCT.md adopts to its place and to a test that exists."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from service_tasks import registry

ROOT = Path(__file__).resolve().parents[1]
#: The tests' own copy of PRODUCT.md (its origin: the shared folder beside the checkout), so the
#: map is checked from a clone in any folder; where the shared original is present it must match.
PRODUCT = ROOT / "tests" / "data" / "PRODUCT.md"
SHARED_PRODUCT = ROOT.parent / "shared" / "PRODUCT.md"
RULES = ROOT / "docs" / "rules.md"

#: A rule ID of DOMAIN.md (SEV-Q-01, T-11, RT-07, G-13, ESC-4S-01, …), optionally a range to another.
_ID = r"[A-Z]+(?:-[A-Z0-9]+)*-\d{2}"
_RANGE = re.compile(rf"\b({_ID})(?:\s*(?:…|\.\.\.)\s*((?:[A-Z]+(?:-[A-Z0-9]+)*-)?\d{{2}}))?\b")
#: Readable case numbers in PRODUCT.md's examples are not rules.
_NOT_RULES = re.compile(r"^(CP|RMA)-\d{4}$")
#: Rules whose process is not in the repository yet, and what must exist once it is.
PENDING_NEEDS = {"EXC": ("check_exchange_eligibility", ROOT / "processes" / "returned_goods")}


def product_rule_ids(text: str) -> set[str]:
    """Rule IDs in ``text``; ``RT-01…RT-07`` and ``EXC-01…06`` count every ID of the range."""
    found: set[str] = set()
    for match in _RANGE.finditer(text):
        first, last = match.group(1), match.group(2)
        prefix, start = first.rsplit("-", 1)
        if _NOT_RULES.match(prefix + "-" + start) or re.match(r"^(CP|RMA)$", prefix):
            continue
        found.add(first)
        if last:
            end = int(last.rsplit("-", 1)[-1])
            found.update(f"{prefix}-{n:02d}" for n in range(int(start), end + 1))
    return found


def rule_rows() -> dict[str, dict[str, str]]:
    rows: dict[str, dict[str, str]] = {}
    for line in RULES.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not re.fullmatch(_ID, cells[0]):
            continue
        assert cells[0] not in rows, f"{cells[0]} has two rows"
        rows[cells[0]] = {"where": cells[1], "test": cells[2], "status": cells[3]}
    return rows


def functions_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_range_parsing():
    ids = product_rule_ids("table (RT-01…RT-07); rules EXC-01…06; T-11, CP-2026-000123, RMA-2026-000123 and G-13.")
    assert ids == {*(f"RT-0{n}" for n in range(1, 8)), *(f"EXC-0{n}" for n in range(1, 7)), "T-11", "G-13"}


def test_every_product_rule_has_a_row():
    text = PRODUCT.read_text(encoding="utf-8")
    if SHARED_PRODUCT.exists():  # beside the product's shared folder: the copy must be current
        assert SHARED_PRODUCT.read_text(encoding="utf-8") == text, "refresh tests/data/PRODUCT.md from ../shared"
    ids = product_rule_ids(text)
    assert {"T-01", "T-02", "T-03", "T-11", "T-12", "SEV-Q-02", "VAL-01"} <= ids  # the parser still works
    missing = sorted(ids - set(rule_rows()))
    assert not missing, f"rules adopted by PRODUCT.md without a row in docs/rules.md: {missing}"


def test_every_named_test_exists():
    for rule, row in rule_rows().items():
        if row["status"] == "pending":
            continue
        assert row["status"] == "done", (rule, row["status"])
        file, _, name = row["test"].partition("::")
        path = ROOT / file
        assert path.is_file() and file.startswith("tests/"), f"{rule}: no test file {file}"
        assert name in functions_of(path), f"{rule}: {file} has no test {name}"


def test_pending_rules_are_really_not_built():
    """A pending row is allowed only while its process is missing; once built, it needs a test."""
    for rule, row in rule_rows().items():
        if row["status"] != "pending":
            continue
        family = rule.split("-")[0]
        assert family in PENDING_NEEDS, f"{rule} is pending without a reason"
        operator, process_dir = PENDING_NEEDS[family]
        assert operator not in registry.names() and not process_dir.exists(), (
            f"{rule}: {operator} / {process_dir.name} exist now — name the test in docs/rules.md")
