"""The reference service's runtime requirements, derived from its own imports and pyproject.toml.

The service image must not carry the harness's dependencies (locust, hypothesis, ...), yet keeping a
second hand-written list would drift. So: every third-party module that `reference_service` imports,
plus the modules uvicorn loads by name (`loop="uvloop"`, `http="httptools"`), matched to the
requirement of the same name in pyproject.toml. Standard library only, so that the service's
Dockerfile can run this file as a script: `python requirements.py PROJECT_ROOT`.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

PACKAGE = "reference_service"
# uvicorn keyword arguments whose string value names a module it imports at run time.
NAMED_MODULE_KWARGS = ("loop", "http", "ws")
# redis-py needs async-timeout on Python < 3.11.3 (the Debian image has 3.11.2); a host with a newer
# Python evaluates that marker to false, so the wheelhouse would miss it.
ALWAYS = ("async-timeout>=4.0.3",)
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """The normalized distribution name a requirement line starts with ("" when it has none)."""
    match = _NAME.match(requirement)
    return normalize(match.group(1)) if match else ""


def _named_module(node: ast.AST) -> str | None:
    """ "uvloop" in `uvicorn.run(..., loop="uvloop")`: a module uvicorn imports by name."""
    if isinstance(node, ast.keyword) and node.arg in NAMED_MODULE_KWARGS and isinstance(node.value, ast.Constant):
        return node.value.value if isinstance(node.value.value, str) else None
    return None


def imported_modules(package_dir: Path) -> set[str]:
    """Top-level modules the package imports or has uvicorn import by name, minus stdlib and itself."""
    found: set[str] = set()
    for path in sorted(package_dir.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
            elif name := _named_module(node):
                found.add(name)
    return found - set(sys.stdlib_module_names) - {package_dir.name}


def service_requirements(project_root: Path) -> list[str]:
    """Requirement lines (pyproject's own specifiers) for the modules the service uses, sorted."""
    pyproject = tomllib.loads((project_root / "pyproject.toml").read_text(encoding="utf-8"))
    declared: dict[str, str] = {}
    for requirement in pyproject["project"]["dependencies"]:
        declared[requirement_name(requirement)] = requirement
    modules = {normalize(module) for module in imported_modules(project_root / PACKAGE)}
    chosen = [declared[name] for name in sorted(modules) if name in declared]
    return [*chosen, *ALWAYS]


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[2]
    print("\n".join(service_requirements(root)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
