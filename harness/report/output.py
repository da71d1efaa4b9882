"""Where reports go: reports/<run-id>/ (git-ignored), with reports/latest pointing at the newest one."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.report import schema
from harness.report.render import render_html, render_markdown

REPORTS_DIR = Path("reports")
LATEST = "latest"


@dataclass(frozen=True)
class Written:
    """The three files of a report."""

    html: Path
    markdown: Path
    json: Path

    @property
    def directory(self) -> Path:
        return self.html.parent


def new_run_id(kind: str, now: float | None = None) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}-{kind}"


def run_dir(kind: str, out: str | os.PathLike[str] | None = None, root: Path = REPORTS_DIR) -> Path:
    """`out` if given, else a new reports/<run-id>/ (a suffix keeps two runs of the same second apart)."""
    if out is not None:
        path = Path(out)
        path.mkdir(parents=True, exist_ok=True)
        return path
    base = root / new_run_id(kind)
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    path.mkdir(parents=True)
    return path


def update_latest(directory: Path, root: Path = REPORTS_DIR) -> Path | None:
    """Point reports/latest at `directory` when it lives directly under reports/ (atomically: rename over)."""
    if directory.resolve().parent != root.resolve():
        return None
    link = root / LATEST
    tmp = root / f".{LATEST}.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(directory.name, target_is_directory=True)
    tmp.replace(link)
    return link


def write(results: Mapping[str, Any], directory: Path, root: Path = REPORTS_DIR) -> Written:
    """results.json, then summary.md and report.html rendered from it; reports/latest follows."""
    schema.validate(results)
    directory.mkdir(parents=True, exist_ok=True)
    written = Written(directory / "report.html", directory / "summary.md", directory / "results.json")
    schema.dump(results, written.json)
    written.markdown.write_text(render_markdown(results), encoding="utf-8")
    written.html.write_text(render_html(results), encoding="utf-8")
    update_latest(directory, root)
    return written
