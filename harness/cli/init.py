"""`harness init [DIR]`: scaffold a user project that tests an async-download service with the harness — a contract
profile and a service spec from the commented templates, a pytest chaos test over the plugin's fixtures, a
locustfile over the shipped users, pytest options and a CI workflow example. Its own test passes against the
reference service as made."""

from __future__ import annotations

import argparse
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from harness.core.errors import ConfigError

SCAFFOLD = "scaffold"
# Names inside the package -> names in the project (hidden folders and .py files ship under plain names, so the
# package's own tools neither skip nor import them).
RENAMES = {"github": ".github", ".py.tmpl": ".py"}


def _files(root: Traversable, prefix: str = "") -> dict[str, Traversable]:
    found: dict[str, Traversable] = {}
    for entry in root.iterdir():
        name = f"{prefix}{entry.name}"
        if entry.is_dir():
            found |= _files(entry, f"{name}/")
        elif not entry.name.endswith((".pyc", ".pyo")):
            found[name] = entry
    return found


def _target_name(name: str) -> str:
    parts = [RENAMES.get(part, part) for part in name.split("/")]
    if parts[-1].endswith(".py.tmpl"):
        parts[-1] = parts[-1].removesuffix(".tmpl")
    return "/".join(parts)


def plan() -> dict[str, str]:
    """Project file -> its content: the scaffold's files, and the shipped reference profile as profile.toml."""
    files = {
        _target_name(n): t.read_text(encoding="utf-8")
        for n, t in _files(resources.files(__package__) / SCAFFOLD).items()
    }
    profile = resources.files("harness.contract.profiles").joinpath("reference.toml").read_text(encoding="utf-8")
    files["profile.toml"] = profile
    files["service.toml"] = resources.files("harness.stack").joinpath("services", "reference.toml").read_text("utf-8")
    return dict(sorted(files.items()))


def scaffold(directory: Path, *, force: bool = False) -> list[Path]:
    """Write the project into `directory`; refuse (writing nothing) when a file exists, unless `force`."""
    files = plan()
    taken = [name for name in files if (directory / name).exists()]
    if taken and not force:
        raise ConfigError(
            f"{directory}: {', '.join(taken)} already exist; nothing was written. Choose an empty folder, or pass "
            "--force to overwrite them"
        )
    written = []
    for name, content in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "init", help="scaffold a project that chaos- and load-tests your service", description=__doc__
    )
    parser.add_argument("directory", nargs="?", type=Path, default=Path("."), help="where (default: this folder)")
    parser.add_argument("--force", action="store_true", help="overwrite files that exist")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    for path in scaffold(args.directory, force=args.force):
        print(f"wrote {path}")
    print(f"next: cd {args.directory} && harness doctor && pytest   (README.md says more)")
    return 0
