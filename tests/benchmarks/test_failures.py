"""Failures are results: a failing agent yields error records naming it, the run goes on, the world
stays read-only, and a results folder has one writer and no duplicate keys."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from twm_bench.cli import main
from twm_bench.records import RECORDS_FILE, Record, append, dedupe, load, results_lock
from twm_bench.runner import run_unit
from twm_bench.spec import RunSpec, SpecError

H = "tests.benchmarks.helper_agents:"
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("agent", "where", "kind"),
    [
        ("RaisesInPrepare", "building or prepare", "RuntimeError: injected fault in prepare"),
        ("FailsToBuild", "building or prepare", "OSError: checkpoint file is unreadable"),
        ("RaisesInReset", "step 0", "RuntimeError: injected fault in reset"),
        ("RaisesInAct", "step 1", "RuntimeError: injected fault in act"),
        ("RaisesInMetrics", "step 4", "RuntimeError: injected fault in metrics"),  # tiny: 4 steps
        ("ExitsInAct", "step 1", "SystemExit: 3"),
        ("InterruptsInAct", "step 1", "KeyboardInterrupt"),
        ("NaNAction", "step 0", "InvalidAction: action[4] (p: cell 1, slice urllc) is nan"),
        ("WrongShape", "step 0", "InvalidAction: action has shape (7,)"),
    ],
)
def test_failures__each_fault_is_an_error_record_naming_agent_scenario_seed_and_step(agent, where, kind) -> None:
    records = run_unit(H + agent, "tiny", [3, 4], 0, 0, "h")
    assert len(records) == 2
    for rec, seed in zip(records, [3, 4], strict=True):
        assert rec.error is not None and rec.error.startswith(kind), rec.error
        if "prepare" not in where:
            assert f"agent {H}{agent}, scenario tiny, seed {seed}, {where})" in rec.error.splitlines()[0]
        else:
            assert f"agent {H}{agent}, scenario tiny, {where})" in rec.error.splitlines()[0]
        assert "Traceback" in rec.error or "File " in rec.error  # a short traceback follows
        assert rec.kpis == {} and rec.utility is None


def test_failures__a_hanging_agent_times_out_and_the_unit_goes_on() -> None:
    start = time.perf_counter()
    records = run_unit(H + "HangsInAct", "tiny", [0, 1], 0, 0, "h", timeout_s=0.5)
    assert time.perf_counter() - start < 5
    assert all(r.error.startswith("EpisodeTimeout") and "step 1" in r.error for r in records)


def test_failures__the_run_goes_on_and_the_report_lists_and_excludes_failed_episodes(tmp_path: Path) -> None:
    out = tmp_path / "res"
    argv = ["run", "--agents", H + "RaisesInAct", "uniform", "--scenarios", "tiny", "--seeds", "2"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    records = load(out / RECORDS_FILE)
    assert [r.error is None for r in records] == [False, False, True, True]
    report = (out / "report.md").read_text()
    assert "2 failed episodes, left out of the means above" in report
    assert f"- `{H}RaisesInAct` on tiny, seed 0: RuntimeError: injected fault in act" in report
    assert f"| {H}RaisesInAct | tiny | 0 (2 failed) |" in report and "| uniform | tiny | 2 |" in report


def test_world__is_read_only_so_a_writer_changes_nothing_for_the_next_agent(tmp_path: Path) -> None:
    clean = run_unit("uniform", "hotspot-id", [0], 0, 0, "h")[0]
    cheat = run_unit(H + "ZeroesTheWorld", "hotspot-id", [0], 0, 0, "h")[0]
    assert cheat.error.startswith("ValueError: assignment destination is read-only")
    after = run_unit("uniform", "hotspot-id", [0], 0, 0, "h")[0]
    assert after.kpis == clean.kpis
    from twm_gym.core.candidates import candidate_library
    from twm_gym.scenarios import load_scenario

    with pytest.raises(ValueError, match="read-only"):
        candidate_library(load_scenario("hotspot-id")).p[0, 0, 0, 0] = 1.0


def test_meter__cannot_be_written_by_the_agent() -> None:
    records = run_unit(H + "ForgesTheMeter", "tiny", [0], 4, 0, "h")
    assert records[0].error.startswith("AttributeError") and "calls_used" in records[0].error.splitlines()[-1]


def test_records__are_strict_json_and_deduplicated_by_key(tmp_path: Path) -> None:
    path = tmp_path / RECORDS_FILE
    rec = Record("a", "tiny", 0, "h", metrics={"x": float("nan"), "y": float("inf")}, utility=float("nan"))
    append(path, rec)
    append(path, Record("a", "tiny", 0, "h", utility=1.0))
    line = path.read_text().splitlines()[0]
    json.loads(line, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    records = load(path)
    assert records[0].metrics == {"x": None, "y": None} and records[0].utility is None
    unique, dropped = dedupe(records)
    assert dropped == 1 and len(unique) == 1 and unique[0].utility is None  # the first record of the key


def test_spec__refuses_an_agent_named_twice() -> None:
    with pytest.raises(SpecError, match=r"agents: \['uniform'\] named more than once"):
        RunSpec(agents=("uniform", "random", "uniform"))


def test_results_folder__has_one_writer_at_a_time(tmp_path: Path, capsys) -> None:
    out = tmp_path / "res"
    with results_lock(out):
        code = main(["run", "--agents", "uniform", "--scenarios", "tiny", "--seeds", "1", "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{out} is being written by another twm-bench run (pid {os.getpid()} on" in err
    assert (
        main(["run", "--agents", "uniform", "--scenarios", "tiny", "--seeds", "1", "--out", str(out), "--quiet"]) == 0
    )


def _cli(out: Path, *extra: str) -> list[str]:
    agents = [H + "SlowUniform", "uniform", "proportional", "dt-fair"]
    return [sys.executable, "-m", "twm_bench.cli", "run", "--agents", *agents, "--scenarios", "tiny", "hotspot-id",
            "--seeds", "6", "--workers", "2", "--out", str(out), "--quiet", *extra]  # fmt: skip


@pytest.mark.slow
def test_interrupt__sigint_stops_two_workers_within_5_s_and_a_rerun_completes(tmp_path: Path) -> None:
    out = tmp_path / "res"
    proc = subprocess.Popen(_cli(out), cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(load(out / RECORDS_FILE)) < 3:
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    start = time.perf_counter()
    _, err = proc.communicate(timeout=30)
    assert time.perf_counter() - start < 5, err
    assert proc.returncode == 130 and "interrupted" in err
    assert (out / "report.md").exists()
    partial = load(out / RECORDS_FILE)
    assert 3 <= len(partial) < 48
    subprocess.run(_cli(out), cwd=ROOT, check=True, capture_output=True, timeout=300)
    records = load(out / RECORDS_FILE)
    assert len(records) == 48 and dedupe(records)[1] == 0 and all(r.error is None for r in records)


@pytest.mark.slow
def test_kill__sigkill_of_the_run_takes_its_workers_with_it(tmp_path: Path) -> None:
    out = tmp_path / "res"
    proc = subprocess.Popen(_cli(out), cwd=ROOT, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(load(out / RECORDS_FILE)) < 3:
        time.sleep(0.2)
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert children, "no worker processes"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    time.sleep(2.0)
    alive = [pid for pid in children if Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)]
    assert alive == [], f"orphan workers {alive}"
    size = (out / RECORDS_FILE).stat().st_size
    time.sleep(1.0)
    assert (out / RECORDS_FILE).stat().st_size == size  # nobody writes any more
    subprocess.run(_cli(out), cwd=ROOT, check=True, capture_output=True, timeout=300)  # the lock was released
    records = load(out / RECORDS_FILE)
    assert len(records) == 48 and dedupe(records)[1] == 0


def _state(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return "Z"
