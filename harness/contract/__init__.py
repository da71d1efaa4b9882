"""The contract: profiles of an implementation (paths, fields, codes, names, features) and the canonical views
every other layer reads (`JobView`, `Reply`, ...). `load_profile` reads a profile shipped here or a user's TOML."""

from harness.contract.profile import EVENTS, LIMITS, STATES, V1, ContractProfile, Features
from harness.contract.profiles import DEFAULT_PROFILE, available_profiles, load_profile, parse_profile
from harness.contract.timeouts import StreamOptions, Timeouts
from harness.contract.views import DownloadResult, JobView, PollResult, Reply, classify_exception, classify_status

__all__ = [
    "DEFAULT_PROFILE", "EVENTS", "LIMITS", "STATES", "V1", "ContractProfile", "DownloadResult", "Features", "JobView",
    "PollResult", "Reply", "StreamOptions", "Timeouts", "available_profiles", "classify_exception", "classify_status",
    "load_profile", "parse_profile",
]  # fmt: skip
