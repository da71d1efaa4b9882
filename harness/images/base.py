"""The offline base image: a Debian minbase tree from debootstrap, trimmed, then `docker import`ed."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from harness.images.engine import HASH_LABEL, ImageBuildError, Progress, docker_sdk, image_label, import_rootfs
from harness.images.recipes import BASE_CHANGES, SUITE, TRIM, TRIM_FILES, base_hash, base_packages, cache_dir

BASE_REPO = "adc/base"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
APT_SOURCES = Path("/etc/apt")


def base_tag() -> str:
    return f"{BASE_REPO}:{base_hash()[:12]}"


def debian_mirror(suite: str = SUITE, apt_dir: Path = APT_SOURCES) -> str:
    """The mirror apt itself uses for `suite` (deb822 .sources or one-line .list), else deb.debian.org."""
    for path in sorted(apt_dir.glob("sources.list.d/*.sources")):
        for block in path.read_text().split("\n\n"):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", block, flags=re.MULTILINE))
            if "deb" in fields.get("Types", "").split() and suite in fields.get("Suites", "").split():
                return str(fields.get("URIs", DEFAULT_MIRROR).split()[0])
    for path in [apt_dir / "sources.list", *sorted(apt_dir.glob("sources.list.d/*.list"))]:
        for line in path.read_text().splitlines() if path.is_file() else []:
            words = re.sub(r"\[[^]]*\]", "", line).split()
            if len(words) >= 3 and words[0] == "deb" and words[2] == suite:
                return words[1]
    return DEFAULT_MIRROR


def ensure_base(client: Any, progress: Progress) -> str:
    """The base image's tag, building it (~1 min) only when no image carries the recipe's hash."""
    tag, content_hash = base_tag(), base_hash()
    if image_label(client, tag, HASH_LABEL) == content_hash:
        progress(f"[images] base       {tag:34} up to date")
        return tag
    started = time.monotonic()
    rootfs = cache_dir() / f"rootfs-{content_hash[:12]}"
    try:
        _debootstrap(rootfs, progress, started)
        _trim(rootfs)
        progress(f"    {time.monotonic() - started:6.1f} s  docker import {tag}")
        import_rootfs(rootfs, tag, [*BASE_CHANGES, f"LABEL {HASH_LABEL}={content_hash}"])
    finally:
        _remove_tree(rootfs)
    progress(f"[images] base       {tag:34} built in {time.monotonic() - started:.1f} s")
    _untag_older_bases(client, tag)
    return tag


def _untag_older_bases(client: Any, keep: str) -> None:
    """Older recipes' base tags; their layers stay for as long as images built on them exist."""
    for image in client.images.list(name=BASE_REPO):
        for tag in image.tags:
            if tag != keep:
                with contextlib.suppress(docker_sdk().errors.APIError):
                    client.images.remove(tag, noprune=True)


def _debootstrap(rootfs: Path, progress: Progress, started: float) -> None:
    if shutil.which("debootstrap") is None:
        progress("    installing debootstrap from Debian")
        _apt_install("debootstrap")
    mirror = os.environ.get("HARNESS_DEBIAN_MIRROR") or debian_mirror()
    _remove_tree(rootfs)
    log = cache_dir() / "debootstrap.log"
    progress(f"    {time.monotonic() - started:6.1f} s  debootstrap {SUITE} from {mirror} (log: {log})")
    argv = ["debootstrap", "--variant=minbase", f"--include={','.join(base_packages())}", SUITE, str(rootfs), mirror]
    with log.open("w") as out:
        code = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
    if code != 0:
        exc = ImageBuildError(f"debootstrap of {SUITE} from {mirror} failed (exit {code}); set HARNESS_DEBIAN_MIRROR?")
        exc.add_note("last lines of the debootstrap log:\n" + "\n".join(log.read_text().splitlines()[-15:]))
        raise exc
    progress(f"    {time.monotonic() - started:6.1f} s  debootstrap done ({_size_mb(rootfs):.0f} MB before trim)")


def _apt_install(package: str) -> None:
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package]
    if subprocess.run(install, env=env, capture_output=True, check=False).returncode == 0:
        return
    subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
    result = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ImageBuildError(f"`apt-get install {package}` failed: {result.stderr.strip()[-500:]}")


def _trim(rootfs: Path) -> None:
    for rel in TRIM:
        target = rootfs / rel
        for child in target.iterdir() if target.is_dir() else []:
            _remove_tree(child)
    for pattern in TRIM_FILES:
        for path in rootfs.glob(pattern):
            path.unlink()
    for doc in (rootfs / "usr/share/doc").glob("*/*"):
        if doc.name != "copyright":
            _remove_tree(doc)


def _size_mb(path: Path) -> float:
    out = subprocess.run(["du", "-sm", str(path)], capture_output=True, text=True, check=False).stdout
    return float(out.split()[0]) if out else 0.0


def _remove_tree(path: Path) -> None:
    """rmtree that first unmounts anything a failed debootstrap left mounted inside (proc, sys)."""
    if not path.exists() and not path.is_symlink():
        return
    resolved = str(path.resolve())
    mounts = Path("/proc/mounts").read_text().splitlines()
    inside = [m.split()[1] for m in mounts if m.split()[1].startswith(resolved + "/")]
    for mount_point in sorted(inside, reverse=True):
        subprocess.run(["umount", "-l", mount_point], check=False)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
