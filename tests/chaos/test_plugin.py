"""The pytest plugin as a user meets it, in inner pytest runs: nothing started or imported unless a fixture asks,
an external target's process faults refused with the reason, a failing test's history path printed."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.chaos

UNUSED_PORT_URL = "http://127.0.0.1:9"  # discard port: nothing listens; none of these tests sends a request


def test_a_run_that_uses_no_fixture_imports_no_stack(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import sys

        def test_plain():
            heavy = {"harness.stack", "harness.stack.local", "harness.clients.workload", "harness.targets"}
            heavy |= {"httpx"}
            assert not heavy & set(sys.modules), heavy & set(sys.modules)
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_external_target_refuses_process_faults_and_skips_toxiproxy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from harness.core.errors import FaultError

        def test_process_fault(faults, stack):
            assert stack.endpoints.edge_url == "http://127.0.0.1:9"
            with pytest.raises(FaultError, match="need a stack the harness started"):
                faults.worker_kill(0).apply()

        def test_network_fault_without_toxiproxy(faults):
            with pytest.raises(FaultError, match="--harness-toxiproxy"):
                faults.latency("api", ms=100).apply()

        def test_toxiproxy(toxiproxy):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", f"--harness-target={UNUSED_PORT_URL}", "-rs")
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(["*has no Toxiproxy; pass --harness-toxiproxy URL*"])


def test_a_failing_test_prints_its_history_path(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nharness_target = " + UNUSED_PORT_URL)
    pytester.makepyfile(
        """
        def test_fails(history):
            assert False, "on purpose"
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*harness history*", "recorded history: *history.jsonl", "judge it again: *"])
