"""What goes into each image, assembled as a build context, and the content hash that names it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from harness.faults.toxiproxy_install import install
from harness.images.engine import ImageBuildError, Progress
from harness.images.requirements import PACKAGE, requirement_name, service_requirements

CONTEXTS = Path(__file__).resolve().parents[1] / "stack" / "images"
SUITE = "bookworm"
# Removed from the debootstrapped tree before import; license files (usr/share/doc/*/copyright) stay.
# Log files go, their directories (var/log/nginx, ...) stay.
TRIM = ("usr/share/man", "usr/share/info", "usr/share/locale", "var/cache/apt", "var/lib/apt/lists", "var/log/apt")
TRIM_FILES = ("var/log/*.log",)
BASE_CHANGES = ("ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "ENV LANG=C.UTF-8")
# Project-wheel entries that never reach the service image (the Dockerfile deletes the harness package).
_NOT_IN_IMAGE = "harness/"


@dataclass(frozen=True)
class Context:
    """A ready-to-send build context and the hash of everything in it."""

    role: str
    path: Path
    content_hash: str


def project_root() -> Path:
    """The source tree the images are built from: HARNESS_PROJECT_ROOT, else the checkout holding harness/."""
    root = Path(os.environ.get("HARNESS_PROJECT_ROOT") or Path(__file__).resolve().parents[2])
    if not (root / "pyproject.toml").is_file() or not (root / PACKAGE).is_dir():
        raise ImageBuildError(f"{root} is not the project's source tree; set HARNESS_PROJECT_ROOT to the checkout")
    return root


def cache_dir() -> Path:
    path = project_root() / ".cache" / "images"
    path.mkdir(parents=True, exist_ok=True)
    return path


def base_packages() -> list[str]:
    lines = (CONTEXTS / "base" / "packages.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def base_hash() -> str:
    recipe = "\n".join(["debootstrap minbase", SUITE, *base_packages(), *TRIM, *TRIM_FILES, *BASE_CHANGES])
    return hashlib.sha256(recipe.encode()).hexdigest()


def _file_digest(path: Path) -> str:
    if path.suffix == ".whl" and path.parent.name == "project":
        return _wheel_digest(path)
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _wheel_digest(path: Path) -> str:
    """Hash of a wheel's entries (not its zip timestamps), less what the image drops and RECORD."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as wheel:
        for name in sorted(wheel.namelist()):
            if name.startswith(_NOT_IN_IMAGE) or name.endswith(".dist-info/RECORD"):
                continue
            digest.update(name.encode() + b"\0" + hashlib.sha256(wheel.read(name)).digest())
    return digest.hexdigest()


def tree_hash(root: Path, *salt: str) -> str:
    """sha256 over every file's relative path and content (wheels by their entries), plus `salt`."""
    digest = hashlib.sha256("\n".join(salt).encode())
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(f"\n{path.relative_to(root).as_posix()}\0{_file_digest(path)}".encode())
    return digest.hexdigest()


def _fresh_copy(role: str, source: Path) -> Path:
    target = cache_dir() / "contexts" / role
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def simple_context(role: str, base_tag: str) -> Context:
    """redis and nginx: a Dockerfile FROM the base; the base's hash is part of theirs."""
    path = _fresh_copy(role, CONTEXTS / role)
    return Context(role, path, tree_hash(path, base_tag))


def toxiproxy_context(progress: Progress) -> Context:
    """FROM scratch plus the pinned static binaries (`harness install toxiproxy`, built now if missing)."""
    built = install(progress=lambda line: progress(f"[images] {line}"))
    path = _fresh_copy("toxiproxy", CONTEXTS / "toxiproxy")
    for binary in (built.server, built.cli):
        shutil.copy2(binary, path / binary.name)
    return Context("toxiproxy", path, tree_hash(path))


def pinned_requirements(lines: list[str]) -> list[str]:
    """Pin each requirement to the version this venv runs (the image then runs what the tests ran)."""
    pinned = []
    for line in lines:
        name, _, marker = line.partition(";")
        bare = requirement_name(name)
        try:
            spec = f"{bare}=={metadata.version(bare)}"
        except metadata.PackageNotFoundError:
            spec = name.strip()
        pinned.append(f"{spec}; {marker.strip()}" if marker.strip() else spec)
    return pinned


def _run(argv: list[str], what: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        exc = ImageBuildError(f"{what} failed with exit code {result.returncode}")
        exc.add_note((result.stdout + result.stderr)[-3000:])
        raise exc


def _cached_wheels(kind: str, key: str, pip_args: list[str], progress: Progress) -> Path:
    """A wheel directory built once per key with the host's pip (the index is asked only then)."""
    final = cache_dir() / "wheels" / f"{kind}-{key[:16]}"
    if final.is_dir():
        return final
    progress(f"[images] service: pip wheel ({kind}) into {final.relative_to(project_root())}")
    partial = final.with_name(final.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(partial), *pip_args], f"pip wheel {kind}")
    partial.rename(final)
    for older in final.parent.glob(f"{kind}-*"):
        if older != final:
            shutil.rmtree(older, ignore_errors=True)
    return final


def service_context(base_tag: str, progress: Progress) -> Context:
    """The offline service: Dockerfile, deps/ (requirements.txt + its wheels), project/ (the project wheel)."""
    root = project_root()
    requirements = "\n".join(pinned_requirements(service_requirements(root))) + "\n"
    req_file = cache_dir() / "service-requirements.txt"
    req_file.write_text(requirements)
    deps = _cached_wheels("deps", hashlib.sha256(requirements.encode()).hexdigest(), ["-r", str(req_file)], progress)
    source_key = tree_hash(root / PACKAGE, (root / "pyproject.toml").read_text(), (root / "README.md").read_text())
    project = _cached_wheels("project", source_key, ["--no-deps", str(root)], progress)
    path = _fresh_copy("service", CONTEXTS / "service")
    shutil.copytree(deps, path / "deps", copy_function=os.link)
    shutil.copytree(project, path / "project", copy_function=os.link)
    (path / "deps" / "requirements.txt").write_text(requirements)
    return Context("service", path, tree_hash(path, base_tag))


def registry_service_context() -> Context:
    """reference_service/Dockerfile with the few files it copies (never the whole checkout)."""
    root = project_root()
    path = cache_dir() / "contexts" / "service-registry"
    shutil.rmtree(path, ignore_errors=True)
    for rel in ("pyproject.toml", "README.md", "harness/__init__.py", "harness/images/requirements.py"):
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, path / rel)
    shutil.copytree(root / PACKAGE, path / PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy2(root / PACKAGE / "Dockerfile", path / "Dockerfile")
    return Context("service", path, tree_hash(path, "registry"))
