"""The modeler's moddle descriptor for ``spiffworkflow:`` round-trips every shipped diagram.

Each diagram of ``processes/`` and of the conformance corpus is imported into bpmn-moddle (the
model behind bpmn-js) with ``web/static/js/modeler/spiffworkflow-moddle.json`` and exported
again, by Node; the engine's semantic diff of the two texts must be empty, and every
``spiffworkflow:`` element must have been read as a declared type (not kept as an unknown one).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

import engine

ROOT = Path(__file__).resolve().parents[2]
DESCRIPTOR = ROOT / "web" / "static" / "js" / "modeler" / "spiffworkflow-moddle.json"
DIAGRAMS = sorted((ROOT / "processes").glob("*/*.bpmn")) + sorted((ROOT / "tests/data/conformance").glob("*.bpmn"))
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DD_DI_NS = "http://www.omg.org/spec/DD/20100524/DI"

# Reads {"descriptor": path, "files": {name: xml}} on stdin; writes {"files": {name: {xml, untyped, warnings}},
# "defaults": {bpmn tag: {attribute: default}}}.
ROUND_TRIP = r"""
import { readFileSync } from 'node:fs';
import { BpmnModdle } from 'bpmn-moddle';
const input = JSON.parse(readFileSync(0, 'utf8'));
const moddle = new BpmnModdle({ spiffworkflow: JSON.parse(readFileSync(input.descriptor, 'utf8')) });
const out = {};
function walk(value, seen, untyped) {
  if (!value || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (Array.isArray(value)) { value.forEach(v => walk(v, seen, untyped)); return; }
  const type = value.$type;
  if (typeof type === 'string' && type.startsWith('spiffworkflow:') && !moddle.registry.typeMap[type]) {
    untyped.push(type);
  }
  for (const [key, child] of Object.entries(value)) {
    if (key !== '$parent' && key !== '$model' && key !== '$descriptor') walk(child, seen, untyped);
  }
}
for (const [name, text] of Object.entries(input.files)) {
  const { rootElement, warnings } = await moddle.fromXML(text);
  const untyped = [];
  walk(rootElement, new Set(), untyped);
  const { xml } = await moddle.toXML(rootElement, { format: true });
  out[name] = { xml, untyped: [...new Set(untyped)], warnings: warnings.map(w => w.message) };
}
// BPMN attributes with a schema default: bpmn-moddle leaves them out when they hold it.
const defaults = {};
for (const type of moddle.registry.packageMap.bpmn.types) {
  const tag = type.name[0].toLowerCase() + type.name.slice(1);
  for (const prop of moddle.getElementDescriptor(moddle.getType('bpmn:' + type.name)).properties) {
    if (prop.default !== undefined && !prop.isMany) (defaults[tag] ??= {})[prop.ns.localName] = String(prop.default);
  }
}
process.stdout.write(JSON.stringify({ files: out, defaults }));
"""


def _node() -> str:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.fail("Node.js is missing (Debian: apt-get install nodejs); the modeler build needs it too")
    if not (ROOT / "node_modules" / "bpmn-moddle" / "package.json").is_file():
        pytest.fail("node_modules/bpmn-moddle is missing: run `make static` (npm install)")
    return node


@pytest.fixture(scope="module")
def node_output() -> dict:
    files = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in DIAGRAMS}
    done = subprocess.run([_node(), "--input-type=module", "-e", ROUND_TRIP], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, input=json.dumps({"descriptor": str(DESCRIPTOR), "files": files}))
    assert done.returncode == 0, done.stderr
    result: dict = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def round_trips(node_output: dict) -> dict[str, dict]:
    return dict(node_output["files"])


def _without_defaults(text: str, defaults: dict[str, dict[str, str]]) -> str:
    """``text`` without BPMN attributes that state their schema default (``cancelActivity="true"``)
    and with coordinates as plain numbers: the same model, which bpmn-moddle writes so."""
    tree = etree.fromstring(text.encode("utf-8"))
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue
        if etree.QName(el).namespace in (DC_NS, DD_DI_NS):  # numbers: 100.0 and 100 are one position
            for attr in ("x", "y", "width", "height"):
                if el.get(attr) is not None:
                    el.set(attr, repr(float(el.get(attr))))
        if etree.QName(el).namespace != BPMN_NS:
            continue
        for attr, default in defaults.get(etree.QName(el).localname, {}).items():
            if el.get(attr) == default:
                del el.attrib[attr]
    return etree.tostring(tree, encoding="unicode")


def test_the_corpus_uses_spiffworkflow_extensions() -> None:
    """The round trip below is not vacuous: the diagrams carry the extensions it must keep."""
    texts = [p.read_text(encoding="utf-8") for p in DIAGRAMS]
    assert sum(t.count("<spiffworkflow:serviceTaskOperator") for t in texts) >= 20
    assert any("<spiffworkflow:retry" in t for t in texts) and any("<spiffworkflow:payloadExpression" in t
                                                                   for t in texts)


def _is_reference(name: str) -> bool:
    """An attribute or element name of BPMN that holds a reference to an element by id."""
    return name.endswith("Ref") or name in {"bpmnElement", "default", "incoming", "outgoing"}


def _without_dangling(text: str, warnings: list[str]) -> str:
    """``text`` without the references bpmn-moddle reported unresolved (``unresolved reference <x>``)
    after checking that no element of the file has that id: a modeler cannot keep a reference to
    nothing, so a file that holds one is compared as if it had not been written."""
    dangling = {m.group(1) for w in warnings if (m := re.fullmatch(r"unresolved reference <(.+)>", w))}
    tree = etree.fromstring(text.encode("utf-8"))
    ids = {el.get("id") for el in tree.iter() if isinstance(el.tag, str)}
    assert not dangling & ids, f"bpmn-moddle lost references to existing elements: {sorted(dangling & ids)}"
    for el in list(tree.iter()):
        if not isinstance(el.tag, str):
            continue
        parent = el.getparent()
        if _is_reference(etree.QName(el).localname) and (el.text or "").strip() in dangling and parent is not None:
            parent.remove(el)
            continue
        for attr, value in list(el.attrib.items()):
            if _is_reference(attr) and value in dangling:
                del el.attrib[attr]
    return etree.tostring(tree, encoding="unicode")


def test_shipped_processes_read_without_warnings(round_trips: dict[str, dict]) -> None:
    for path in DIAGRAMS:
        if path.is_relative_to(ROOT / "processes"):
            assert round_trips[str(path.relative_to(ROOT))]["warnings"] == [], path


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.name)
def test_open_and_save_without_edits_changes_nothing(path: Path, round_trips: dict[str, dict],
                                                     node_output: dict) -> None:
    name = str(path.relative_to(ROOT))
    saved = round_trips[name]
    original = _without_dangling(path.read_text(encoding="utf-8"), saved["warnings"])
    assert saved["untyped"] == [], f"spiffworkflow elements the descriptor does not declare: {saved['untyped']}"
    defaults = node_output["defaults"]
    diff = engine.diff_files({path.name: _without_defaults(original, defaults)},
                             {path.name: _without_defaults(saved["xml"], defaults)})
    assert diff["elements"] == {"added": [], "removed": [], "changed": []}, engine.diff_lines(
        {**diff, "from": {"key": name, "version": "file"}, "to": {"key": name, "version": "saved"}})
    assert not diff["layout_changed"]
    if SPIFF_NS in original:
        assert SPIFF_NS in saved["xml"]


def test_an_edit_in_the_model_shows_in_the_diff(round_trips: dict[str, dict]) -> None:
    """The diff above can fail: a changed parameter of the saved text is reported."""
    path = ROOT / "processes" / "complaint" / "complaint.bpmn"
    saved = round_trips[str(path.relative_to(ROOT))]["xml"]
    edited = saved.replace('id="q_major_functional" type="int" value="15"', 'id="q_major_functional" type="int" '
                                                                            'value="20"')
    assert edited != saved
    diff = engine.diff_files({"complaint.bpmn": path.read_text(encoding="utf-8")}, {"complaint.bpmn": edited})
    changes = [c for e in diff["elements"]["changed"] for c in e["changes"]]
    assert changes == [{"property": "parameter q_major_functional", "old": "15", "new": "20"}]
