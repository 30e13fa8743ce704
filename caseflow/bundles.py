"""Process bundles on disk: collect their files and parse BPMN XML safely.

A bundle is one folder of ``.bpmn`` files with the form JSON-Schema files and DMN tables
they reference. Nothing here knows the workflow library; ``engine.deploy`` validates the rest.
"""
from __future__ import annotations

import codecs
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

BUNDLE_SUFFIXES = (".bpmn", ".dmn", ".json")
MAX_FILE_BYTES = 5 * 1024 * 1024
_XML_DECLARATION = re.compile(r"^\ufeff?\s*<\?xml[^>]*\?>")
_DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?\sencoding\s*=\s*[\"']([A-Za-z][A-Za-z0-9._-]{0,39})[\"']")
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


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


def decode(name: str, raw: bytes) -> str:
    """The text of a bundle file; raises :class:`BundleError` naming the line of a bad byte.

    JSON files are UTF-8. XML files (``.bpmn``, ``.dmn``) may also be in the encoding their
    byte-order mark or XML declaration names (UTF-16 from some Windows modelers, ISO-8859-1).
    """
    encoding = "utf-8"
    if not name.endswith(".json"):
        for bom, bom_encoding in _BOMS:
            if raw.startswith(bom):
                encoding = bom_encoding
                break
        else:
            declared = _DECLARED_ENCODING.match(raw)
            if declared:
                encoding = declared.group(1).decode("ascii").lower()
    try:
        if not codecs.lookup(encoding)._is_text_encoding:  # rot13, zlib and the like are not file encodings
            raise LookupError(encoding)
    except LookupError:
        raise BundleError([Problem(f"unknown encoding {encoding!r} in the XML declaration", file=name, line=1)]) \
            from None
    try:
        return raw.decode(encoding).removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        single_byte_lines = "\n".encode(encoding, "replace") == b"\n"
        line = raw[:err.start].count(b"\n") + 1 if single_byte_lines else None
        raise BundleError([Problem(f"file is not {encoding.upper()} text: byte 0x{raw[err.start]:02x} cannot be "
                                   f"decoded (save the file as UTF-8)", file=name, line=line)]) from None


def _read_text(path: Path, problems: list[Problem]) -> str | None:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            problems.append(Problem(f"file is larger than {MAX_FILE_BYTES} bytes", file=path.name))
            return None
        return decode(path.name, path.read_bytes())
    except BundleError as err:
        problems.extend(err.problems)
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
        try:
            _collect_path(path, bundles, problems)
        except OSError as err:  # a folder that cannot be listed
            problems.append(Problem(f"cannot read: {err.strerror or err}", file=str(err.filename or path)))
    if problems:
        raise BundleError(problems)
    return bundles


def _collect_path(path: Path, bundles: list[Bundle], problems: list[Problem]) -> None:
    """Add the bundles of one path given to :func:`collect` (or its problems)."""
    if not path.exists():
        problems.append(Problem("no such file or folder", file=str(path)))
    elif path.is_file():
        if path.suffix != ".bpmn":
            problems.append(Problem("not a .bpmn file or a folder", file=str(path)))
            return
        text = _read_text(path, problems)
        if text is None:
            return
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
