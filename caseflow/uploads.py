"""Deploying an uploaded bundle: several .bpmn/.dmn/.json files, or one .zip, read defensively,
then validated and stored by the engine exactly like ``caseflow deploy``.

A zip is opened only within limits (its size, the number of entries, each entry's and the
total unpacked size, the compression ratio); entries must be plain files at the top of the
archive or inside one top folder: absolute paths, ``..``, deeper folders, links and
encrypted entries are refused. Every problem is reported like a deployment problem (file,
message), so the caller shows the same validation report as ``caseflow deploy``. BPMN/DMN
files with DOCTYPE/ENTITY declarations are refused before any XML is parsed.

Used by the API (``POST /api/v1/processes``) and the admin pages (``/admin/processes``).
"""
from __future__ import annotations

import io
import posixpath
import re
import stat
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO

import engine
from caseflow import bundles

MAX_UPLOAD_FILES = 100
MAX_ZIP_BYTES = 10 * 1024 * 1024
MAX_ZIP_ENTRIES = 200
MAX_TOTAL_BYTES = 20 * 1024 * 1024
MAX_RATIO = 100  # unpacked / packed, per entry
_JUNK = ("__MACOSX/", ".DS_Store", "Thumbs.db", "desktop.ini")


class UploadRejected(Exception):
    """The upload is not a usable bundle; ``problems`` say why."""

    def __init__(self, problems: list[bundles.Problem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def _read_limited(stream: IO[bytes], limit: int) -> bytes | None:
    data = stream.read(limit + 1)
    return None if len(data) > limit else data


def _decode(name: str, raw: bytes, problems: list[bundles.Problem]) -> str | None:
    try:
        return bundles.decode(name, raw)  # the same rules as files on disk (BOM, declared XML encoding)
    except bundles.BundleError as err:
        problems.extend(err.problems)
        return None


def _check_name(name: str, problems: list[bundles.Problem]) -> bool:
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name or ":" in name:
        problems.append(bundles.Problem("not a plain file name", file=name or "(empty)"))
        return False
    if not name.endswith(bundles.BUNDLE_SUFFIXES):
        problems.append(bundles.Problem("only .bpmn, .dmn and .json files belong in a bundle", file=name))
        return False
    return True


def bundle_from_files(items: Iterable[tuple[str, BinaryIO]], source: str = "upload") -> bundles.Bundle:
    """A bundle from uploaded ``(filename, stream)`` pairs: one ``.zip`` or bundle files."""
    items = list(items)
    problems: list[bundles.Problem] = []
    if not items:
        raise UploadRejected([bundles.Problem("no file uploaded (send .bpmn/.dmn/.json files or one .zip)")])
    if len(items) > MAX_UPLOAD_FILES:
        raise UploadRejected([bundles.Problem(f"at most {MAX_UPLOAD_FILES} files per upload")])
    zips = [(n, s) for n, s in items if (n or "").lower().endswith(".zip")]
    if zips:
        if len(items) != 1:
            raise UploadRejected([bundles.Problem("upload one .zip alone, or the bundle's files without a zip")])
        name, stream = zips[0]
        raw = _read_limited(stream, MAX_ZIP_BYTES)
        if raw is None:
            raise UploadRejected([bundles.Problem(f"the zip is larger than {MAX_ZIP_BYTES} bytes", file=name)])
        return bundle_from_zip(raw, name)
    bundle = bundles.Bundle(source=source)
    total = 0
    for name, stream in items:
        name = (name or "").strip()
        if not _check_name(name, problems):
            continue
        raw = _read_limited(stream, bundles.MAX_FILE_BYTES)
        if raw is None:
            problems.append(bundles.Problem(f"file is larger than {bundles.MAX_FILE_BYTES} bytes", file=name))
            continue
        total += len(raw)
        if name in bundle.files:
            problems.append(bundles.Problem("uploaded twice", file=name))
            continue
        text = _decode(name, raw, problems)
        if text is not None:
            bundle.files[name] = text
    if total > MAX_TOTAL_BYTES:
        problems.append(bundles.Problem(f"the upload is larger than {MAX_TOTAL_BYTES} bytes in all"))
    if problems:
        raise UploadRejected(problems)
    return bundle


def _entry_path(info: zipfile.ZipInfo) -> list[str] | None:
    name = info.filename
    if "\\" in name or name.startswith("/") or "\0" in name or (len(name) > 1 and name[1] == ":"):
        return None
    parts = [p for p in name.split("/") if p not in ("",)]
    if any(p in (".", "..") for p in parts) or posixpath.isabs(name):
        return None
    return parts


def bundle_from_zip(raw: bytes, zip_name: str = "upload.zip") -> bundles.Bundle:
    """The bundle inside a zip archive (see the module doc for what is refused)."""
    problems: list[bundles.Problem] = []
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as err:
        raise UploadRejected([bundles.Problem(f"not a readable zip archive: {err}", file=zip_name)]) from err
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ZIP_ENTRIES:
            raise UploadRejected([bundles.Problem(f"the zip has more than {MAX_ZIP_ENTRIES} entries", file=zip_name)])
        declared = sum(max(i.file_size, 0) for i in infos)
        if declared > MAX_TOTAL_BYTES:
            raise UploadRejected([bundles.Problem(f"the zip unpacks to more than {MAX_TOTAL_BYTES} bytes",
                                                  file=zip_name)])
        files: list[tuple[list[str], zipfile.ZipInfo]] = []
        for info in infos:
            shown = f"{zip_name}:{info.filename}"
            if any(info.filename.startswith(j) or info.filename.endswith("/" + j) or info.filename == j
                   for j in _JUNK):
                continue
            parts = _entry_path(info)
            if parts is None:
                problems.append(bundles.Problem("unsafe path in the zip (absolute, '..' or backslash)", file=shown))
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                problems.append(bundles.Problem("links are not allowed in the zip", file=shown))
                continue
            if info.is_dir():
                continue
            if info.flag_bits & 0x1:
                problems.append(bundles.Problem("encrypted entries are not allowed", file=shown))
                continue
            files.append((parts, info))
        folders = {tuple(p[:-1]) for p, _i in files}
        if len(folders) > 1 or any(len(f) > 1 for f in folders):
            problems.append(bundles.Problem("the zip must hold the bundle's files at its top level or inside "
                                            "one folder (no sub-folders)", file=zip_name))
            raise UploadRejected(problems)
        bundle = bundles.Bundle(source=zip_name)
        for parts, info in files:
            name, shown = parts[-1], f"{zip_name}:{info.filename}"
            if not _check_name(name, problems):
                continue
            if info.file_size > bundles.MAX_FILE_BYTES:
                problems.append(bundles.Problem(f"file is larger than {bundles.MAX_FILE_BYTES} bytes", file=shown))
                continue
            if info.compress_size and info.file_size / info.compress_size > MAX_RATIO and info.file_size > 1_000_000:
                problems.append(bundles.Problem("suspicious compression ratio (zip bomb?)", file=shown))
                continue
            if name in bundle.files:
                problems.append(bundles.Problem("the same file name appears twice", file=shown))
                continue
            try:
                with archive.open(info) as stream:
                    data = _read_limited(stream, bundles.MAX_FILE_BYTES)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError) as err:
                problems.append(bundles.Problem(f"cannot unpack: {err}", file=shown))
                continue
            if data is None:
                problems.append(bundles.Problem(f"file is larger than {bundles.MAX_FILE_BYTES} bytes", file=shown))
                continue
            text = _decode(name, data, problems)
            if text is not None:
                bundle.files[name] = text
    if not problems and not bundle.files:
        problems.append(bundles.Problem("the zip holds no bundle files", file=zip_name))
    if problems:
        raise UploadRejected(problems)
    return bundle


def precheck(bundle: bundles.Bundle) -> list[bundles.Problem]:
    """Cheap checks before any XML parsing: DOCTYPE/ENTITY declarations are refused at once."""
    problems = []
    for name, text in bundle.files.items():
        if name.endswith((".bpmn", ".dmn")):
            lowered = text.lower()
            if "<!doctype" in lowered or "<!entity" in lowered:
                problems.append(bundles.Problem(
                    "DOCTYPE / ENTITY declarations are not allowed in BPMN files "
                    "(possible XXE or entity-expansion attack)", file=name, line=1))
    return problems


_PROCESS_ID = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?process\b[^>]*?\bid=[\"']([^\"']+)[\"']")


@dataclass
class Completion:
    """Files an upload lacked, taken from the latest version of its process, and what the
    upload changes against that version (readable diff lines)."""

    key: str
    version: int
    taken: list[str] = field(default_factory=list)
    diff: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"key": self.key, "version": self.version, "taken": self.taken, "diff": self.diff}


def complete_from_current(session: Any, bundle: bundles.Bundle) -> tuple[bundles.Bundle, list[Completion]]:
    """``bundle`` with every file of the latest deployed version of its processes that it lacks
    (uploading only the edited ``complaint.bpmn`` keeps that version's forms and manifest), and
    per process the files taken and the diff against that version. Processes not deployed yet
    are left as uploaded."""
    files = dict(bundle.files)
    completions: list[Completion] = []
    keys = list(dict.fromkeys(k for name in bundle.bpmn_names for k in _PROCESS_ID.findall(bundle.files[name])))
    for key in keys:
        try:
            versions = engine.list_versions(session, key)
        except engine.NotFound:  # a new process: nothing to take
            continue
        if not versions:
            continue
        current = engine.get_definition(session, versions[0]["definition_id"])
        current_files: dict[str, str] = dict(current.files or {})
        # never a second diagram of a process the upload defines (an edited file saved under a new name)
        taken = sorted(name for name in current_files if name not in files
                       and not (name.endswith(".bpmn") and set(_PROCESS_ID.findall(current_files[name])) & set(keys)))
        for name in taken:
            files[name] = current_files[name]
        try:
            diff = engine.diff_files(current_files, files)
        except bundles.BundleError:  # a file that does not parse: the validation that follows names its problems
            completions.append(Completion(key, current.version, taken, []))
            continue
        diff.update({"from": {"key": key, "version": current.version},
                     "to": {"key": key, "version": current.version + 1}})  # what deploying would make it
        completions.append(Completion(key, current.version, taken, engine.diff_lines(diff)))
    return bundles.Bundle(source=bundle.source, files=files), completions


def deploy_bundle(session: Any, bundle: bundles.Bundle, actor: engine.Actor | str,
                  validate_only: bool = False) -> dict:
    """Validate a bundle and store it (or only report, with ``validate_only``).

    Raises ``engine.DeployRejected`` with the problems (file, element, line), exactly as
    ``caseflow deploy`` reports them. With ``validate_only`` nothing is stored (a savepoint
    is rolled back) and a version the bundle would create has the status ``valid`` and
    ``definition_id`` None.
    """
    early = precheck(bundle)
    if early:
        raise engine.DeployRejected(early)
    results = [r.as_dict() for r in engine.deploy_bundles(session, [bundle], actor=actor, check_only=validate_only)]
    return {"validate_only": validate_only, "files": sorted(bundle.files), "processes": results}


def deploy_upload(session: Any, files: Iterable[tuple[str, BinaryIO]], actor: engine.Actor | str,
                  validate_only: bool = False) -> dict:
    """:func:`deploy_bundle` for uploaded ``(filename, stream)`` pairs (raises :class:`UploadRejected` too)."""
    return deploy_bundle(session, bundle_from_files(files), actor, validate_only)
