"""A profile's `file_ids`: the loader's two forms and its errors, the draws (`pick` on the default range is the draw
workloads always made), `first`, and every client naming only the ids the profile says make a valid job."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.chaos import machine as chaos_machine
from harness.chaos.machine import ChaosMachine
from harness.clients.workload import Workload, WorkloadConfig, plan_jobs
from harness.conformance.bad_input import cases
from harness.conformance.context import ConformanceConfig, Run
from harness.contract import V1, ContractProfile
from harness.contract.profile import DEFAULT_FILE_IDS, FileIds
from harness.contract.profiles import load_profile, parse_profile
from harness.core.errors import ConfigError
from harness.judge import CheckParams
from harness.judge.history import NullHistory

pytestmark = pytest.mark.unit

LISTED = FileIds(values=(3, 5, 8))
STEPPED = FileIds(start=1, stop=50, step=7)  # 1, 8, 15, 22, 29, 36, 43, 50


@pytest.mark.parametrize(
    ("toml", "ids"),
    [
        ("file_ids = [3, 5, 8]", LISTED),
        ("file_ids = { from = 1, to = 50 }", FileIds(start=1, stop=50)),
        ("file_ids = { from = 1, to = 50, step = 7 }", STEPPED),
        ("[file_ids]\nfrom = 1\nto = 50\nstep = 7", STEPPED),
        ("name = 'no ids given'", DEFAULT_FILE_IDS),
    ],
    ids=["list", "range", "stepped-range", "table-form", "default"],
)
def test_the_loader_reads_a_list_or_a_range(toml: str, ids: FileIds) -> None:
    assert parse_profile(toml, "<string>").file_ids == ids


def test_the_reference_and_v1_accept_todays_range() -> None:
    assert load_profile().file_ids == V1.file_ids == FileIds(start=10001, stop=19999)
    assert hash(V1.file_ids) == hash(FileIds(start=10001, stop=19999))  # frozen and hashable
    with pytest.raises(AttributeError):
        V1.file_ids.start = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ("file_ids = ['3']", ["file_ids = ['3']", "has '3', not a positive integer", "e.g. [3, 5, 8]"]),
        ("file_ids = [1.5]", ["file_ids = [1.5]", "has 1.5, not a positive integer"]),
        ("file_ids = [true]", ["file_ids = [True]", "has True, not a positive integer"]),
        ("file_ids = [4, -2]", ["file_ids = [4, -2]", "has -2"]),
        ("file_ids = [0]", ["file_ids = [0]", "has 0"]),
        ("file_ids = []", ["file_ids = []", "is empty", "{ from = 1, to = 50 }"]),
        ("file_ids = [1, 2, 1]", ["file_ids = [1, 2, 1]", "names 1 more than once", "list each id once"]),
        ("file_ids = { from = 5, to = 1 }", ["file_ids = {'from': 5, 'to': 1}", "runs backwards", "swap"]),
        ("file_ids = { from = 1, to = 5, step = 0 }", ["[file_ids] step = 0", "not a positive integer"]),
        ("file_ids = { from = 0, to = 5 }", ["[file_ids] from = 0", "not a positive integer"]),
        ("file_ids = { from = 1, to = 5.5 }", ["[file_ids] to = 5.5", "not a positive integer"]),
        ("file_ids = { from = 1, to = 5, stpe = 2 }", ["[file_ids] stpe = 2", "did you mean 'step'"]),
        ("file_ids = { from = 1 }", ["file_ids = {'from': 1}", "has no to", "give both ends"]),
        ("file_ids = 5", ["file_ids = 5", "is not a list or a range"]),
        ("file_id = [1]", ["file_id = [1]", "did you mean 'file_ids'"]),
    ],
)
def test_a_bad_file_ids_is_refused_naming_key_value_and_hint(toml: str, says: list[str]) -> None:
    with pytest.raises(ConfigError, match=r"^profile mine\.toml: ") as caught:
        parse_profile(toml, "mine.toml")
    assert all(part in str(caught.value) for part in says), caught.value


def test_pick_on_the_default_range_is_the_draw_workloads_always_made() -> None:
    mine, theirs = random.Random(42), random.Random(42)
    for count in (1, 2, 3, 0, 3):
        assert DEFAULT_FILE_IDS.pick(mine, count) == tuple(theirs.randint(10001, 19999) for _ in range(count))
    assert mine.random() == theirs.random()  # and it left the generator where the old draw left it


@pytest.mark.parametrize("ids", [LISTED, STEPPED], ids=["list", "stepped"])
def test_pick_yields_members_only(ids: FileIds) -> None:
    rng = random.Random(7)
    drawn = [i for _ in range(200) for i in ids.pick(rng, 3)]
    assert all(i in ids for i in drawn) and set(drawn) == set(ids.first(len(ids)))  # every member, nothing else


def test_membership_length_and_description() -> None:
    assert len(LISTED) == 3 and len(STEPPED) == 8 and len(DEFAULT_FILE_IDS) == 9999
    assert 5 in LISTED and 4 not in LISTED and 43 in STEPPED and 44 not in STEPPED and 57 not in STEPPED
    assert True not in FileIds(values=(1,)) and "3" not in LISTED
    assert [ids.describe() for ids in (DEFAULT_FILE_IDS, STEPPED, LISTED)] == [
        "10001..19999",
        "1..50 step 7",
        "[3, 5, 8] (3 ids)",
    ]


def test_first_is_deterministic_and_refuses_more_than_there_are() -> None:
    assert DEFAULT_FILE_IDS.first(2) == (10001, 10002) and STEPPED.first(3) == (1, 8, 15) == STEPPED.first(3)
    assert LISTED.first(3) == (3, 5, 8) and LISTED.first(0) == ()
    with pytest.raises(ConfigError, match=r"file ids \[3, 5, 8\] \(3 ids\): 4 distinct ids wanted, only 3 valid"):
        LISTED.first(4)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"values": ()}, {"values": (1, 1)}, {"values": (1,), "start": 1}, {"start": 5, "stop": 4}, {"start": 1}],
)
def test_a_file_ids_that_names_no_valid_job_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="file ids"):
        FileIds(**kwargs)  # type: ignore[arg-type]


def test_plan_jobs_names_only_the_profiles_ids() -> None:
    config = WorkloadConfig(jobs=100, seed=3)
    assert plan_jobs(config, "r") == plan_jobs(config, "r", DEFAULT_FILE_IDS)  # the default: same seed, same jobs
    plans = plan_jobs(config, "r", LISTED)
    assert {i for plan in plans for i in plan.file_ids} == {3, 5, 8}
    assert all(1 <= len(plan.file_ids) <= 3 for plan in plans)
    workload = Workload("http://127.0.0.1:9", NullHistory(), config, "r", ContractProfile(file_ids=LISTED))
    assert workload.plans == plans


def test_conformance_jobs_and_bad_inputs_use_the_profiles_ids() -> None:
    profile = ContractProfile(file_ids=FileIds(values=(7, 9, 11)))
    with Run(ConformanceConfig("http://127.0.0.1:9", profile), NullHistory()) as run:
        assert (run.short_files, run.long_files) == ((7, 9), (7, 9, 11))  # a dozen, or all there are
        bodies = {case.label: case.body for case in cases(run)}
    assert bodies["JSON array"] == b"[7]"
    assert bodies["file id a string"] == b'{"fileIds": ["7"]}' and bodies["file id fractional"] == b'{"fileIds": [7.5]}'
    assert bodies["clientRequestId a number"] == b'{"fileIds": [7], "clientRequestId": 5}'
    with Run(ConformanceConfig("http://127.0.0.1:9", V1), NullHistory()) as run:
        assert run.short_files == (10001, 10002) and run.long_files == tuple(range(10001, 10013))


def test_the_machine_draws_from_the_stack_profiles_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chaos_machine, "note", lambda text: None)  # Hypothesis notes exist inside a run only
    for profile, picks, expected in [
        (ContractProfile(file_ids=LISTED), [0, 1, 2, 3, 98], [3, 5, 8, 3, 8]),
        (V1, [0, 5, 99], [10001, 10006, 10100]),  # what st.integers(10001, 10100) drew before
    ]:
        stack = SimpleNamespace(time_scale=0.05, endpoints=SimpleNamespace(edge_url="http://127.0.0.1:9"))
        stack.profile = profile
        run = tmp_path / profile.file_ids.describe()
        run.mkdir()
        machine = ChaosMachine.bound(stack, CheckParams.for_scale(0.05), run)()
        try:
            assert machine.job_files(picks) == expected
        finally:
            machine.client.close()
            machine.history.close()


def test_the_locust_users_draw_from_the_contract_profile() -> None:
    """In a subprocess: importing Locust monkey-patches the process with gevent."""
    code = (
        "from types import SimpleNamespace as N\n"
        "from harness.contract import ContractProfile\n"
        "from harness.contract.profile import FileIds\n"
        "from harness.locust.users import JobUser\n"
        "user = N(rt=N(settings=N(contract=ContractProfile(file_ids=FileIds(values=(3, 5, 8))))))\n"
        "print(sorted({i for _ in range(100) for i in JobUser.pick_files(user, 3)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[3, 5, 8]", out.stderr
