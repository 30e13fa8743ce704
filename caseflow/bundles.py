"""Process bundles on disk: collect their files and parse BPMN XML safely.

A bundle is one folder of ``.bpmn`` files with the form JSON-Schema files and DMN tables
they reference. Nothing here knows the workflow library; ``engine.deploy`` validates the rest.
"""
from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

BUNDLE_SUFFIXES = (".bpmn", ".dmn", ".json")
MAX_FILE_BYTES = 5 * 1024 * 1024
_XML_DECLARATION = re.compile(r"^\ufeff?\s*<\?xml[^>]*\?>")


@dataclass
class Problem:
    """One reason a deployment is refused, located as precisely as we can."""

    message: str
    file: str | None = None
    element: str | None = None
    line: int | None = None

    def as_dict(self) -> dict:
        return {"file": self.file, "element": self.element, "line": self.line, "message": self.message}

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line) if p)
        elem = f" [{self.element}]" if self.element else ""
        return f"{where}{elem}: {self.message}" if where or elem else self.message


@dataclass
class Bundle:
    """The files of one bundle: name -> text (names are flat, relative to the folder)."""

    source: str
    files: dict[str, str] = field(default_factory=dict)

    @property
    def bpmn_names(self) -> list[str]:
        return sorted(n for n in self.files if n.endswith(".bpmn"))

    @property
    def dmn_names(self) -> list[str]:
        return sorted(n for n in self.files if n.endswith(".dmn"))

    def content_hash(self) -> str:
        digest = hashlib.sha256()
        for name in sorted(self.files):
            digest.update(name.encode() + b"\0" + self.files[name].encode() + b"\0")
        return digest.hexdigest()


class BundleError(Exception):
    """The given paths could not be read as bundles."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def _read_text(path: Path, problems: list[Problem]) -> str | None:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            problems.append(Problem(f"file is larger than {MAX_FILE_BYTES} bytes", file=path.name))
            return None
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        problems.append(Problem("file is not UTF-8 text", file=path.name))
    except OSError as err:
        problems.append(Problem(f"cannot read file: {err.strerror}", file=str(path)))
    return None


def _folder_bundle(folder: Path, problems: list[Problem]) -> Bundle:
    bundle = Bundle(source=str(folder))
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix in BUNDLE_SUFFIXES:
            text = _read_text(path, problems)
            if text is not None:
                bundle.files[path.name] = text
    return bundle


def collect(paths: list[str | Path]) -> list[Bundle]:
    """Bundles for the given ``.bpmn`` files or folders.

    A folder that holds ``.bpmn`` files is one bundle; a folder that holds none is searched
    for such folders (so ``processes/`` yields one bundle per process folder). A single
    ``.bpmn`` file is a bundle with the JSON and DMN files beside it.
    """
    problems: list[Problem] = []
    bundles: list[Bundle] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            problems.append(Problem("no such file or folder", file=str(path)))
        elif path.is_file():
            if path.suffix != ".bpmn":
                problems.append(Problem("not a .bpmn file or a folder", file=str(path)))
                continue
            text = _read_text(path, problems)
            if text is None:
                continue
            bundle = Bundle(source=str(path), files={path.name: text})
            for sibling in sorted(path.parent.iterdir()):
                if sibling.is_file() and sibling.suffix in (".json", ".dmn"):
                    sibling_text = _read_text(sibling, problems)
                    if sibling_text is not None:
                        bundle.files[sibling.name] = sibling_text
            bundles.append(bundle)
        else:
            folders = sorted({p.parent for p in path.rglob("*.bpmn")})
            if not folders:
                problems.append(Problem("folder holds no .bpmn file", file=str(path)))
            bundles.extend(_folder_bundle(folder, problems) for folder in folders)
    if problems:
        raise BundleError(problems)
    return bundles


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
    )


def parse_xml(name: str, text: str) -> etree._ElementTree:
    """Parse BPMN/DMN XML with entities, DTDs and network access off.

    Any DOCTYPE is refused before parsing, which stops XXE and "billion laughs" files at
    once instead of after expanding them.
    """
    head = text[:4096].lower()
    if "<!doctype" in head or "<!entity" in text.lower():
        raise BundleError([Problem("DOCTYPE / ENTITY declarations are not allowed in BPMN files "
                                   "(possible XXE or entity-expansion attack)", file=name, line=1)])
    # The text is already decoded (UTF-8); drop the declaration so its encoding is not re-applied.
    body = _XML_DECLARATION.sub("", text, count=1)
    try:
        tree = etree.parse(io.BytesIO(body.encode("utf-8")), _safe_parser())
    except etree.XMLSyntaxError as err:
        raise BundleError([Problem(f"not well-formed XML: {err.msg}", file=name, line=err.lineno)]) from err
    if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
        raise BundleError([Problem("DOCTYPE declarations are not allowed", file=name, line=1)])
    return tree


def element_lines(tree: etree._ElementTree) -> dict[str, int]:
    """Map of element id -> source line, for locating problems."""
    lines: dict[str, int] = {}
    for el in tree.iter():
        element_id = el.get("id") if isinstance(el.tag, str) else None
        if element_id and el.sourceline is not None:
            lines[element_id] = el.sourceline
    return lines
