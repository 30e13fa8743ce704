"""The installed ``caseflow`` command imports what the checkout has: every top-level module is packaged."""
from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_top_level_module_is_declared_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    modules = {p.stem for p in ROOT.glob("*.py")}
    assert modules == set(config["py-modules"]), "pyproject.toml [tool.setuptools] py-modules is out of date"
