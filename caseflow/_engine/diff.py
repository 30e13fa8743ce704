"""A readable diff of two deployed versions' files: BPMN elements by id, and the other files.

Pure lxml over the stored XML (no workflow objects): what a process owner changed — added,
removed and changed elements with each changed property (attributes, extension properties,
service-task operator and parameters, scripts, conditions, timers) — plus form and DMN files.
"""
from __future__ import annotations

import difflib
import hashlib
import json
from typing import Any

from lxml import etree

from caseflow import bundles

_SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
_DI_NAMESPACES = {"http://www.omg.org/spec/BPMN/20100524/DI", "http://www.omg.org/spec/DD/20100524/DC",
                  "http://www.omg.org/spec/DD/20100524/DI"}
_DIFF_CONTAINERS = {"definitions", "process", "subProcess", "transaction", "adHocSubProcess", "laneSet",
                    "childLaneSet", "collaboration"}
_DIFF_TRANSPARENT = {"extensionElements", "properties", "parameters"}
_DIFF_LISTS = {"incoming", "outgoing", "flowNodeRef"}


def _qname(el: Any) -> tuple[str | None, str]:
    q = etree.QName(el)
    return q.namespace, q.localname


def _attr_label(name: str) -> str:
    if name.startswith("{"):
        ns, local = name[1:].split("}", 1)
        return f"spiffworkflow:{local}" if ns == _SPIFF_NS else local
    return name


def _flatten(el: Any, prefix: str = "", attributes: bool = True) -> dict[str, str]:
    """The comparable properties of one element: attributes, extension properties, service-task
    operator and parameters, scripts, conditions, timer expressions, flow references."""
    out: dict[str, str] = {}
    _ns, local = _qname(el)
    if attributes:
        for name, value in el.attrib.items():
            if name != "id":
                out[f"{prefix}{_attr_label(name)}"] = value
    lists: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    for child in el:
        if not isinstance(child.tag, str):
            continue  # comments, processing instructions
        cns, clocal = _qname(child)
        if cns in _DI_NAMESPACES or (local in _DIFF_CONTAINERS and child.get("id")):
            continue  # layout, or an element of its own
        text = (child.text or "").strip()
        if clocal in _DIFF_LISTS:
            lists.setdefault(prefix + clocal, []).append(text)
        elif cns == _SPIFF_NS and clocal == "property":
            out[f"{prefix}property {child.get('name')}"] = child.get("value", text)
        elif cns == _SPIFF_NS and clocal == "parameter":
            out[f"{prefix}parameter {child.get('id')}"] = child.get("value", text)
            if child.get("type"):
                out[f"{prefix}parameter {child.get('id')} type"] = child.get("type")
        elif cns == _SPIFF_NS and clocal == "serviceTaskOperator":
            out[f"{prefix}operator"] = child.get("id", "")
            for name, value in child.attrib.items():
                if name != "id":
                    out[f"{prefix}operator {_attr_label(name)}"] = value
            out.update(_flatten(child, prefix, attributes=False))
        elif clocal in _DIFF_TRANSPARENT:
            out.update(_flatten(child, prefix, attributes=False))
        else:
            n = seen[clocal] = seen.get(clocal, 0) + 1
            label = clocal if n == 1 else f"{clocal}[{n}]"
            if text:
                out[prefix + label] = text
            out.update(_flatten(child, prefix + label + " "))
    for key, values in lists.items():
        out[key] = ", ".join(sorted(v for v in values if v))
    return out


def _diff_elements(files: dict[str, str]) -> tuple[dict[str, dict], str]:
    """Elements by id over the BPMN files of a version, plus a fingerprint of the layout."""
    elements: dict[str, dict] = {}
    layout = hashlib.sha256()
    for name in sorted(files):
        if not name.endswith(".bpmn"):
            continue
        root = bundles.parse_xml(name, files[name]).getroot()
        for el in root.iter():
            if not isinstance(el.tag, str):
                continue
            ns, local = _qname(el)
            parent = el.getparent()
            if ns in _DI_NAMESPACES:
                if parent is root:
                    layout.update(etree.tostring(el, method="c14n"))
                continue
            element_id = el.get("id")
            if not element_id or parent is None or _qname(parent)[1] not in _DIFF_CONTAINERS:
                continue
            elements.setdefault(element_id, {
                "id": element_id, "type": local, "name": el.get("name"), "file": name,
                "properties": _flatten(el),
            })
    return elements, layout.hexdigest()


def _text_diff(name: str, old: str | None, new: str | None) -> list[str]:
    def lines(text: str | None) -> list[str]:
        if text is None:
            return []
        if name.endswith(".json"):
            try:
                text = json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False)
            except ValueError:
                pass
        return text.splitlines()

    return list(difflib.unified_diff(lines(old), lines(new), f"a/{name}", f"b/{name}", lineterm="", n=2))[:400]


def compare(old_files: dict[str, str], new_files: dict[str, str]) -> dict:
    """Elements added, removed and changed from ``old_files`` to ``new_files`` (bundle file
    name -> text), the other files added, removed or changed, and whether the layout moved."""
    old, old_layout = _diff_elements(old_files)
    new, new_layout = _diff_elements(new_files)

    def brief(e: dict) -> dict:
        return {"id": e["id"], "type": e["type"], "name": e["name"], "file": e["file"]}

    changed = []
    for eid in sorted(set(old) & set(new), key=lambda i: (old[i]["type"], i)):
        po, pn = old[eid]["properties"], new[eid]["properties"]
        changes = [{"property": k, "old": po.get(k), "new": pn.get(k)}
                   for k in sorted(set(po) | set(pn)) if po.get(k) != pn.get(k)]
        if old[eid]["type"] != new[eid]["type"]:
            changes.insert(0, {"property": "type", "old": old[eid]["type"], "new": new[eid]["type"]})
        if changes:
            changed.append({**brief(new[eid]), "changes": changes})
    other_old = {n: t for n, t in old_files.items() if not n.endswith(".bpmn")}
    other_new = {n: t for n, t in new_files.items() if not n.endswith(".bpmn")}
    files_changed = [{"file": n, "diff": _text_diff(n, other_old[n], other_new[n])}
                     for n in sorted(set(other_old) & set(other_new)) if other_old[n] != other_new[n]]
    bpmn_files = sorted(n for n in set(old_files) | set(new_files) if n.endswith(".bpmn"))
    return {
        "elements": {
            "added": [{**brief(new[i]), "properties": new[i]["properties"]}
                      for i in sorted(set(new) - set(old), key=lambda i: (new[i]["type"], i))],
            "removed": [brief(old[i]) for i in sorted(set(old) - set(new), key=lambda i: (old[i]["type"], i))],
            "changed": changed,
        },
        "files": {
            "added": sorted(set(other_new) - set(other_old)),
            "removed": sorted(set(other_old) - set(other_new)),
            "changed": files_changed,
            "bpmn_added": [n for n in bpmn_files if n not in old_files],
            "bpmn_removed": [n for n in bpmn_files if n not in new_files],
        },
        "layout_changed": old_layout != new_layout,
    }


def diff_lines(diff: dict) -> list[str]:
    """A plain-text rendering of :func:`diff_versions` (CLI, logs)."""
    out = [f"{diff['from']['key']} v{diff['from']['version']} -> {diff['to']['key']} v{diff['to']['version']}"]
    els = diff["elements"]
    for e in els["added"]:
        out.append(f"+ {e['type']} {e['id']}" + (f" ({e['name']})" if e["name"] else ""))
    for e in els["removed"]:
        out.append(f"- {e['type']} {e['id']}" + (f" ({e['name']})" if e["name"] else ""))
    for e in els["changed"]:
        out.append(f"~ {e['type']} {e['id']}" + (f" ({e['name']})" if e["name"] else ""))
        for c in e["changes"]:
            out.append(f"    {c['property']}: {c['old']!r} -> {c['new']!r}")
    files = diff["files"]
    out += [f"+ file {n}" for n in files["added"]] + [f"- file {n}" for n in files["removed"]]
    for f in files["changed"]:
        out.append(f"~ file {f['file']}")
        out += [f"    {line}" for line in f["diff"]]
    if diff["layout_changed"]:
        out.append("~ diagram layout")
    if len(out) == 1:
        out.append("(no differences)")
    return out
