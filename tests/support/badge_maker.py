"""shields' own badge renderer (the npm package ``badge-maker``), for the badge width checks.

``ensure_badge_maker()`` installs the versions pinned in ``tests/badge_maker/package-lock.json``
with ``npm ci`` into the git-ignored ``.run/tools/badge-maker-<lock hash>/`` once, so later runs
reuse it; :func:`render` draws badges with it through ``tests/badge_maker/render.mjs``.
``badge-maker`` measures text with ``anafanafo``'s width tables; :func:`anafanafo_tables` reads
them from the same install, and ``python -m tests.support.badge_maker`` writes them into
``services/api/badge_widths.json.gz``, the table our renderer measures with (a test checks that
the committed file still equals them).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tests" / "badge_maker"
TOOLS = ROOT / ".run" / "tools"
WIDTHS = ROOT / "services" / "api" / "badge_widths.json.gz"
#: anafanafo's tables, by the font names badge-maker asks for.
FONT_FILES = {
    "11px Verdana": "verdana-11px-normal.json",
    "10px Verdana": "verdana-10px-normal.json",
    "bold 10px Verdana": "verdana-10px-bold.json",
    "bold 11px Helvetica": "helvetica-11px-bold.json",
}


def install_dir(tools: Path = TOOLS) -> Path:
    lock = (SOURCE / "package-lock.json").read_bytes()
    return tools / f"badge-maker-{hashlib.sha256(lock).hexdigest()[:12]}"


def ensure_badge_maker(npm: str, tools: Path = TOOLS) -> Path:
    """The directory whose ``node_modules`` holds the pinned badge-maker (``npm ci`` the first time)."""
    target = install_dir(tools)
    if (target / "node_modules" / "badge-maker" / "package.json").exists():
        return target
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(SOURCE / name, partial / name)
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
        cwd=partial, check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    try:
        partial.replace(target)
    except OSError:  # another run installed it first
        shutil.rmtree(partial, ignore_errors=True)
    return target


def render(node: str, installed: Path, cases: list[dict[str, str]]) -> list[str]:
    """badge-maker's SVG of each case (``label``, ``message``, ``style``, optional colours)."""
    done = subprocess.run(
        [node, str(SOURCE / "render.mjs"), str(installed)],
        input=json.dumps(cases).encode(), check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    svgs: list[str] = json.loads(done.stdout)
    return svgs


def anafanafo_tables(installed: Path) -> dict[str, Any]:
    """What ``services/api/badge_widths.json.gz`` holds: anafanafo's version and its tables."""
    package = installed / "node_modules" / "anafanafo"
    meta = json.loads((package / "package.json").read_text())
    fonts = {font: json.loads((package / "data" / name).read_text()) for font, name in FONT_FILES.items()}
    return {
        "about": "Advance widths in px of Verdana and Helvetica as shields' badge renderer measures "
        "them: anafanafo's tables ([first code point, last code point, width], MIT licence; all "
        "rights to Verdana are owned by Microsoft Corp.), written by python -m tests.support.badge_maker",
        "anafanafo": meta["version"],
        "fonts": fonts,
    }


def write_widths(installed: Path, target: Path = WIDTHS) -> None:
    text = json.dumps(anafanafo_tables(installed), separators=(",", ":"), sort_keys=True)
    target.write_bytes(gzip.compress(text.encode(), compresslevel=9, mtime=0))


if __name__ == "__main__":
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm is needed (Debian package npm)")
    write_widths(ensure_badge_maker(npm))
    print(f"wrote {WIDTHS.relative_to(ROOT)}")
