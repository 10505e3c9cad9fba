"""twm-bench in-process: exit codes, files written, resume, parallel == serial, plug-ins, Ray."""

import json
import sys
from pathlib import Path

import pytest

from twm_bench.cli import main
from twm_bench.records import RECORDS_FILE, load


def test_list__prints_scenarios(capsys) -> None:
    assert main(["list"]) == 0
    assert "hotspot-id" in capsys.readouterr().out


def test_twin__prints_the_kpi_table(capsys) -> None:
    assert main(["twin", "--scenarios", "tiny", "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    assert "uniform (uniform/uniform/constant/1.00)" in out and "rollouts/s" in out


def test_twin__unknown_scenario_exits_2_naming_valid_ones(capsys) -> None:
    assert main(["twin", "--scenarios", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown scenario 'nope'" in err and "hotspot-id" in err


def test_twin__rejects_nonpositive_seeds(capsys) -> None:
    assert main(["twin", "--seeds", "0"]) == 2
    assert "--seeds must be >= 1" in capsys.readouterr().err


_FAST = ["--scenarios", "tiny", "hotspot-id", "--seeds", "3", "--quiet"]
_TIMING = ("decision_s", "prep_s")


def _comparable(path: Path) -> list[dict]:
    rows = [{k: v for k, v in vars(r).items() if k not in _TIMING} for r in load(path)]
    return sorted(rows, key=lambda r: (r["agent"], r["scenario"], r["seed"]))


def test_run__writes_records_spec_report_and_plots(tmp_path, capsys) -> None:
    out = tmp_path / "res"
    assert main(["run", "--agents", "uniform", "dt-fair", "oracle", *_FAST, "--out", str(out)]) == 0
    records = load(out / RECORDS_FILE)
    assert len(records) == 3 * 2 * 3
    assert {r.agent for r in records} == {"uniform", "dt-fair", "oracle"}
    dt = [r for r in records if r.agent == "dt-fair"]
    assert all(r.prep_calls == 24 and r.sim_calls == 0 for r in dt)  # 24 candidates x floor(36 / 24) seeds, once
    assert all(r.reference for r in records if r.agent == "oracle")
    spec = json.loads((out / "spec.json").read_text())
    assert spec["calls"] == 36 and len(spec["config_hash"]) == 12
    for name in ("report.md", "pareto.png", "pareto.svg", "scm.png", "scm.svg"):
        assert (out / name).stat().st_size > 500
    report = (out / "report.md").read_text()
    assert "config hash" in report and "| dt-fair | hotspot-id | 3 |" in report
    assert "oracle (reference)" in capsys.readouterr().out
    assert "Share of the uniform -> oracle utility gap closed" in report and "| dt-fair | " in report
    # Rerun into the same folder with another budget: the report is of the new configuration only.
    assert main(["run", "--agents", "uniform", "oracle", *_FAST, "--budget", "12", "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "18 records of other run configurations" in report and "| dt-fair |" not in report


def test_presets__paper_and_ablation_agents_quick_leaves_the_ablations_out() -> None:
    from twm_bench.spec import ABLATIONS, PAPER, preset

    assert preset("paper").agents == PAPER and len(preset("paper").seeds) == 32
    assert {"twm", "fwm-only", "cdwm-only", "llm", "dt-fair", "uniform", "proportional", "oracle"} <= set(PAPER)
    assert preset("ablation").agents == ABLATIONS
    quick = preset("quick").agents
    assert "twm" in quick and not any(a.startswith("twm-no-") for a in quick)


def test_run__resume_after_a_kill_loses_nothing_and_adds_no_duplicates(tmp_path) -> None:
    full, cut = tmp_path / "full", tmp_path / "cut"
    args = ["--agents", "uniform", "random", *_FAST]
    assert main(["run", *args, "--out", str(full)]) == 0
    path = cut / RECORDS_FILE
    cut.mkdir()
    lines = (full / RECORDS_FILE).read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:5]) + lines[5][:40])  # killed while writing the 6th line
    assert main(["run", *args, "--out", str(cut)]) == 0
    assert _comparable(path) == _comparable(full / RECORDS_FILE)
    assert main(["run", *args, "--out", str(cut)]) == 0  # nothing left to do
    assert len(load(path)) == len(lines)


def test_run__parallel_workers_give_the_serial_records(tmp_path) -> None:
    serial, parallel = tmp_path / "s", tmp_path / "p"
    args = ["--agents", "uniform", "random", "dt-fair", *_FAST]
    assert main(["run", *args, "--out", str(serial)]) == 0
    assert main(["run", *args, "--workers", "2", "--out", str(parallel)]) == 0
    assert _comparable(serial / RECORDS_FILE) == _comparable(parallel / RECORDS_FILE)


def test_run__an_agent_over_budget_is_recorded_not_fatal(tmp_path, capsys) -> None:
    out = tmp_path / "res"
    agent = "tests.benchmarks.helper_agents:Greedy"
    assert main(["run", "--agents", agent, "uniform", *_FAST, "--out", str(out)]) == 0
    records = [r for r in load(out / RECORDS_FILE) if r.agent == agent]
    failed = [r for r in records if r.error]
    assert len(failed) == 2 and all("BudgetExceededError" in r.error for r in failed)  # episode 1 of each
    assert all(r.kpis for r in records if not r.error)
    assert "(1 failed)" in (out / "report.md").read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--agents", "unifrom"], "unknown agent 'unifrom'"),
        (["run", "--scenarios", "mars"], "unknown scenario 'mars'"),
        (["run", "--seeds", "0"], "--seeds: must be >= 1"),
        (["run", "--workers", "0", "--seeds", "1", "--scenarios", "tiny", "--agents", "uniform"], "workers"),
    ],
)
def test_run__bad_input_exits_2_with_a_clear_error(argv, message, tmp_path, capsys) -> None:
    assert main([*argv, "--out", str(tmp_path / "r")]) == 2
    assert message in capsys.readouterr().err


def test_run__unknown_preset_is_an_argparse_error(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", "--preset", "huge"])
    assert exc.value.code == 2 and "invalid choice: 'huge'" in capsys.readouterr().err


def test_report__missing_or_malformed_results_exit_2(tmp_path, capsys) -> None:
    assert main(["report", str(tmp_path)]) == 2
    assert "no records file" in capsys.readouterr().err
    (tmp_path / RECORDS_FILE).write_text('{"agent": "x"}\nnot json\n')
    assert main(["report", str(tmp_path)]) == 2
    assert "records.jsonl:1: malformed record" in capsys.readouterr().err


def test_plugins__module_class_and_entry_point_agents_in_list_and_report(tmp_path, monkeypatch, capsys) -> None:
    plugin = tmp_path / "plug"
    plugin.mkdir()
    (plugin / "twm_cli_plugin.py").write_text(
        "import numpy as np\nfrom twm_agents.base import Agent\n\n"
        "class Half(Agent):\n    name = 'half'\n\n"
        "    def act(self, observation):\n"
        "        return np.full(self.ctx.card.layout.action_size, 0.15, dtype=np.float32)\n"
    )
    dist = plugin / "twm_cli_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: twm-cli-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[twm_gym.agents]\nhalf = twm_cli_plugin:Half\n")
    monkeypatch.syspath_prepend(str(plugin))
    assert main(["list"]) == 0
    assert "half" in capsys.readouterr().out
    out = tmp_path / "res"
    argv = ["run", "--agents", "half", "tests.benchmarks.helper_agents:Greedy", *_FAST, "--out", str(out)]
    assert main(argv) == 0
    report = (out / "report.md").read_text()
    assert "| half | tiny |" in report and "| tests.benchmarks.helper_agents:Greedy | tiny |" in report
    sys.modules.pop("twm_cli_plugin", None)


@pytest.mark.ray
def test_ray__backend_gives_the_local_records(tmp_path) -> None:
    ray = pytest.importorskip("ray")
    local, remote = tmp_path / "local", tmp_path / "ray"
    args = ["--agents", "uniform", "dt-fair", *_FAST]
    assert main(["run", *args, "--out", str(local)]) == 0
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        assert main(["run", *args, "--backend", "ray", "--out", str(remote)]) == 0
    finally:
        ray.shutdown()
    assert _comparable(local / RECORDS_FILE) == _comparable(remote / RECORDS_FILE)
