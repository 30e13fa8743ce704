"""A process bundle's manifest (``manifest.json``): the process knowledge pages need.

Key fields of a case page, which data keys are deadlines and which tasks each binds, output
labels, who may start the process. Versioned with the deployment like every bundle file.
(Helper-owned: the parsing and validation are filled in by the manifest work.)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from caseflow import bundles

MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class Manifest:
    """The parsed manifest of one process version (defaults when the bundle has none)."""

    raw: dict[str, Any] = field(default_factory=dict)


def problems(files: dict[str, str]) -> list[bundles.Problem]:
    """What is wrong with the bundle's manifest (empty when it is fine or absent)."""
    return []


def load(files: dict[str, str]) -> Manifest:
    """The manifest of a bundle's files (a default one when there is no manifest file)."""
    return Manifest()
