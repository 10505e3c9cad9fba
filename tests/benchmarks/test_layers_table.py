"""The paired layer table: ``twm`` against each agent on the same episodes, per split; its docs block."""

from pathlib import Path

from layers_table import markdown, summarize
from twm_bench.records import Record

ROOT = Path(__file__).resolve().parents[2]


def _rec(agent: str, scenario: str, seed: int, u: float | None, error: str | None = None) -> Record:
    return Record(agent, scenario, seed, "h", kpis={}, utility=u, error=error)


def test_pairs_are_same_episode_differences_and_failures_are_left_out() -> None:
    records = [
        _rec("twm", "train/x", 0, 1.0),
        _rec("twm", "train/x", 1, 0.0),
        _rec("twm", "train/x", 2, 5.0),
        _rec("a", "train/x", 0, 0.5),
        _rec("a", "train/x", 1, -0.5),
        _rec("a", "train/x", 2, None, error="cannot play this city"),
        _rec("uniform", "train/x", 0, 0.0),
        _rec("uniform", "train/x", 1, 0.0),
        _rec("oracle", "train/x", 0, 1.0),
        _rec("oracle", "train/x", 1, 1.0),
    ]
    rows = {(r["agent"], r["split"]): r for r in summarize([("generalization", records)])}
    a = rows["a", "test-seeds"]
    assert a["pairs"] == "2" and a["diff"] == "+0.500" and a["se"] == "0.000"
    assert a["gap_closed"] == "0.00"  # its mean 0.0 against uniform 0.0 and oracle 1.0
    assert rows["twm", "test-seeds"]["diff"] == "" and ("oracle", "test-seeds") not in rows
    paper = summarize([("ablation", [_rec("twm", "hotspot-id", 0, 1.0), _rec("a", "hotspot-id", 0, 0.0)])])
    assert {r["split"] for r in paper} == {"paper-preset"}
    assert "+0.500 ± 0.000 (0%)" in markdown(list(rows.values()))
