"""The generalization preset: every test split, held-out episodes; its docs table from the shipped summary."""

from pathlib import Path

from generalization_table import markdown, summarize
from twm_bench.records import Record
from twm_bench.spec import GENERALIZATION, preset
from twm_gym.scenarios.splits import TEST_SEEDS_FROM, evaluation_split, split_scenarios

ROOT = Path(__file__).resolve().parents[2]


def test_the_preset_plays_every_test_split_on_held_out_episodes_only() -> None:
    spec = preset("generalization")
    assert spec.agents == GENERALIZATION and min(spec.seeds) >= TEST_SEEDS_FROM
    expected = {s for split in ("test-seeds", "test-families", "test-cities", "paper") for s in split_scenarios(split)}
    assert set(spec.scenarios) == expected and len(spec.scenarios) == 62
    assert {evaluation_split(s) for s in spec.scenarios} == {"test-seeds", "test-families", "test-cities", "paper"}


def test_the_summary_counts_failures_apart_and_averages_the_rest() -> None:
    def rec(scenario, scm, error=None):
        kpis = {} if error else {"scm": scm, "global_violation": scm == 0}
        return Record("a", scenario, 0, "h", kpis=kpis, utility=None if error else scm, error=error)

    rows = summarize([rec("train/x", 0.5), rec("train/x", 0.0), rec("hotspot-id", 0.0, error="boom")])
    by = {r["split"]: r for r in rows}
    assert by["test-seeds"] == {
        "agent": "a",
        "split": "test-seeds",
        "episodes": "2",
        "failed": "0",
        "scm_pct": "25.0",
        "utility": "+0.250",
        "p_g": "0.50",
    }
    assert by["paper"]["failed"] == "1" and by["paper"]["scm_pct"] == ""
    assert "— (1 failed)" in markdown(rows)
