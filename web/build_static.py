"""Build the UI's static assets: copy the front-end files it needs from node_modules into
web/static/vendor (no CDN), and compile the translations (web/translations/*/messages.po -> .mo).

Run from the repository root after ``npm install``: ``.venv/bin/python web/build_static.py``.
Self-contained on purpose (no project imports), so it runs before the app is importable.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "web" / "static" / "vendor"
TRANSLATIONS = ROOT / "web" / "translations"

# package-relative source -> vendor-relative target
FILES = {
    "bpmn-js/dist/bpmn-navigated-viewer.production.min.js": "bpmn-js/bpmn-navigated-viewer.production.min.js",
    "bpmn-js/dist/assets/diagram-js.css": "bpmn-js/diagram-js.css",
    "bpmn-js/dist/assets/bpmn-js.css": "bpmn-js/bpmn-js.css",
    "bpmn-js/LICENSE": "bpmn-js/LICENSE",
    # The KPI dashboard's charts (Apache ECharts, with its Chinese and English texts built in).
    "echarts/dist/echarts.min.js": "echarts/echarts.min.js",
    "echarts/LICENSE": "echarts/LICENSE",
}


def build(node_modules: Path = NODE_MODULES, vendor: Path = VENDOR) -> list[Path]:
    """Copy every file of FILES; raises FileNotFoundError naming what ``npm install`` should provide."""
    missing = [src for src in FILES if not (node_modules / src).is_file()]
    if missing:
        raise FileNotFoundError("missing in node_modules (run `npm install` first): " + ", ".join(missing))
    written = []
    for src, dst in FILES.items():
        target = vendor / dst
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(node_modules / src, target)
        written.append(target)
    return written


def compile_translations(folder: Path = TRANSLATIONS) -> list[Path]:
    """Compile every ``messages.po`` under ``folder`` into the ``messages.mo`` Flask-Babel reads."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po_path in sorted(folder.glob("*/LC_MESSAGES/messages.po")):
        with open(po_path, "rb") as fh:
            catalog = read_po(fh)
        mo_path = po_path.with_suffix(".mo")
        with open(mo_path, "wb") as fh:
            write_mo(fh, catalog)
        written.append(mo_path)
    return written


def main() -> int:
    for path in compile_translations():
        print(f"compiled {path.relative_to(ROOT)}")
    try:
        for path in build():
            print(f"copied {path.relative_to(ROOT)}")
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
