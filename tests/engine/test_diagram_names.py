"""Every name drawn on a shipped diagram has a Chinese name for the Chinese case page."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from caseflow.accounts import ROLES
from caseflow.bundles import parse_xml

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
DIAGRAMS = sorted(PROCESSES.glob("*/*.bpmn"))
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
BPMNDI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _chinese_name(element, folder: Path) -> str | None:
    """The name the diagram shows in Chinese: ``nameZh``, a form's ``x-title-zh`` or a lane's role."""
    props = {p.get("name"): p.get("value")
             for p in element.iterfind(f"{BPMN}extensionElements/{{*}}properties/{{*}}property")}
    if props.get("nameZh"):
        return props["nameZh"]
    if props.get("formJsonSchemaFilename"):
        form = json.loads((folder / props["formJsonSchemaFilename"]).read_text(encoding="utf-8"))
        return form.get("x-title-zh")
    if element.tag == f"{BPMN}lane":
        key = re.sub(r"[^0-9a-zA-Z]+", "_", element.get("name", "")).strip("_").lower()
        return ROLES[key][1] if key in ROLES else None
    return None


def test_there_are_diagrams_to_check() -> None:
    assert {p.parent.name for p in DIAGRAMS} >= {"complaint", "repair", "returned_goods"}


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.name)
def test_every_drawn_name_has_a_chinese_name(path: Path) -> None:
    root = parse_xml(path.name, path.read_text(encoding="utf-8")).getroot()
    drawn = {e.get("bpmnElement") for e in root.iter(f"{BPMNDI}BPMNShape", f"{BPMNDI}BPMNEdge")}
    missing = []
    checked = 0
    for element in root.iter(f"{BPMN}*"):
        if not element.get("name") or element.get("id") not in drawn:
            continue
        checked += 1
        zh = _chinese_name(element, path.parent)
        if not zh or not zh.strip() or not CJK.search(zh):
            missing.append(f"{element.get('id')} ({element.get('name')!r}): {zh!r}")
    assert checked > 10, "the diagram has its drawing (BPMNDiagram) and named elements"
    assert not missing, "named elements without a Chinese name (nameZh):\n" + "\n".join(missing)


def test_a_gateway_question_stays_a_question() -> None:
    for path in DIAGRAMS:
        root = parse_xml(path.name, path.read_text(encoding="utf-8")).getroot()
        for gateway in root.iter(f"{BPMN}exclusiveGateway"):
            name = gateway.get("name") or ""
            zh = _chinese_name(gateway, path.parent) or ""
            if name.endswith("?"):
                assert zh.endswith(("?", "？")), f"{path.name} {gateway.get('id')}: {zh!r} is not a question"
