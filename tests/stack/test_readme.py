"""The README's Python examples, run as a user would paste them: the Stack example as a script, the pytest plugin
example as a test file of a user's own suite (so a change that breaks the documented API fails here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.core.cache import CACHE_ENV, user_cache_dir

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.stack
README = Path(__file__).resolve().parents[2] / "README.md"
USER_CACHE = user_cache_dir()  # read before pytester gives each run a HOME of its own


def examples() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 2, f"README.md has {len(blocks)} python examples; this test runs the first two"
    return blocks


def test_the_stack_example_runs_and_loses_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    code = examples()[0]
    assert "with Stack(" in code, code
    exec(compile(code, "README.md (stack example)", "exec"), {"__name__": "readme_example"})
    assert capsys.readouterr().out.strip().splitlines()[-1] == "completed"


@pytest.mark.chaos
def test_the_pytest_plugin_example_passes_in_a_users_suite(
    pytester: pytest.Pytester, time_scale: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(USER_CACHE))  # where this user's Toxiproxy was built
    code = examples()[1]
    assert "def test_" in code, code
    pytester.makepyfile(test_readme_example=code)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--harness-time-scale={time_scale}", "-q")
    result.assert_outcomes(passed=1)
