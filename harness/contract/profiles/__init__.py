"""Contract profiles: one TOML file per implementation of the async-download pattern (see reference.toml).

    load_profile("reference")          # a profile shipped here (the default, equivalent to harness.contract.V1)
    load_profile("./my-service.toml")  # a user's own file

Any tool that takes a ContractProfile by `module:NAME` can name one here: `harness.contract.profiles:reference`, or
`harness.contract.profiles:./my-service.toml` (this module resolves attribute names through `load_profile`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from harness.contract.profile import ContractProfile
from harness.contract.profiles.loader import parse_profile, read_profile
from harness.core.errors import ConfigError

__all__ = ["DEFAULT_PROFILE", "available_profiles", "load_profile", "parse_profile"]

DEFAULT_PROFILE = "reference"


def available_profiles() -> list[str]:
    """The names of the profiles shipped with the harness."""
    files = resources.files(__name__).iterdir()
    return sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml"))


def load_profile(name_or_path: str | Path | None = None) -> ContractProfile:
    """A shipped profile by name, or a profile file by path (anything with a `/` or ending in .toml); None or ""
    is the default profile."""
    spec = str(name_or_path or DEFAULT_PROFILE)
    if isinstance(name_or_path, Path) or "/" in spec or spec.endswith(".toml"):
        return read_profile(Path(spec).expanduser())
    shipped = resources.files(__name__).joinpath(f"{spec}.toml")
    if not shipped.is_file():
        raise ConfigError(
            f"profile {spec!r} is not one shipped with the harness ({', '.join(available_profiles())}); "
            "give one of those, or a path to your own .toml file (e.g. ./my-service.toml)"
        )
    return parse_profile(shipped.read_text(encoding="utf-8"), f"{spec}.toml (shipped)", default_name=spec)


def __getattr__(name: str) -> ContractProfile:
    """`harness.contract.profiles:NAME` for tools that import a profile by attribute (Locust's --contract)."""
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        return load_profile(None if name == "PROFILE" else name)
    except ConfigError as exc:
        raise AttributeError(str(exc)) from None
