"""The leaderboard: world-model axes for shipped and plug-in models, the decision summary, its table."""

import json
from pathlib import Path

import pytest

from twm_bench import leaderboard
from twm_bench.cli import main
from twm_bench.leaderboard import Protocol, agent_rows, markdown
from twm_bench.records import Record

ROOT = Path(__file__).resolve().parents[2]
TINY = Protocol("test", 1, 1, 1, (0,), 2, 1, 1, 1, splits=("paper",))


def _rec(agent: str, scenario: str, seed: int, u: float | None, error: str | None = None) -> Record:
    return Record(agent, scenario, seed, "h", kpis={}, utility=u, error=error)


def test_agent_rows_gap_closed_per_split_and_intent_scores() -> None:
    gen = [
        _rec("uniform", "train/a", 10_000, 0.0),
        _rec("oracle", "train/a", 10_000, 2.0),
        _rec("x", "train/a", 10_000, 1.5),
        _rec("x", "test-cities/b", 10_000, 9.0),  # no uniform / oracle there: utility only
        _rec("x", "hotspot-id", 10_000, None, error="failed"),
    ]
    intents = [_rec("x", "hotspot-id@i.test0", 0, 1.0), _rec("x", "hotspot-id@i.test1", 0, 3.0)]
    rows = {r["agent"]: r for r in agent_rows(gen, intents, ["uniform", "oracle", "x"])}
    x = rows["x"]
    assert x["splits"]["test-seeds"] == {"episodes": 1, "utility": 1.5, "gap_closed": 0.75}
    assert "gap_closed" not in x["splits"]["test-cities"] and "paper" not in x["splits"]
    assert x["intents"] == {"episodes": 2, "mean": 2.0, "se": 1.0}
    assert "intents" not in rows["uniform"]


def test_a_plug_in_fwm_scores_as_the_shipped_model_it_wraps() -> None:
    shipped = leaderboard._axes("fwm", "sets", TINY)
    plugged = leaderboard._axes("fwm", "tests.agents.test_world_models:sets_factory", TINY)
    assert shipped["splits"] == plugged["splits"] and 0.5 < shipped["splits"]["paper"]["r2"] <= 1.0


def default_cdwm():  # type: ignore[no-untyped-def]
    """A plug-in CDWM factory (here: the shipped one-city checkpoint)."""
    from twm_agents.cdwm.predictor import CDWMModel

    return CDWMModel.named("default")


def test_a_plug_in_cdwm_scores_as_the_shipped_model_it_wraps() -> None:
    shipped = leaderboard._axes("cdwm", "default", TINY)
    plugged = leaderboard._axes("cdwm", f"{__name__}:default_cdwm", TINY)
    assert shipped["splits"] == plugged["splits"] and shipped["splits"]["paper"]["crps"] > 0


def test_cdwm_axes_and_a_one_city_model_on_held_out_cities() -> None:
    proto = Protocol("test", 1, 1, 1, (0,), 2, 2, 1, 1, splits=("paper", "test-cities"))
    flat = leaderboard._axes("cdwm", "default", proto)
    assert flat["splits"]["test-cities"] == {"error": "reads one city"}
    paper = flat["splits"]["paper"]
    assert (
        set(paper) == {"crps", "picp", "spearman", "ranking_states"} and paper["ranking_states"] == 2
    )  # every 2nd of 4 scenarios, 1 state
    assert -1.0 <= paper["spearman"] <= 1.0 and paper["crps"] > 0


def _board() -> dict:
    return {
        "protocol": {
            **leaderboard.PROTOCOLS["quick"].__dict__,
            "ranking_steps": [0],
            "splits": ["paper", "test-cities"],
        },
        "world_models": [
            {"kind": "fwm", "spec": "one-city", "splits": {"paper": {"r2": 0.91, "picp": 0.9}, "test-cities": {}}},
            {"kind": "cdwm", "spec": "c", "splits": {"paper": {"crps": 0.1, "picp": 0.8, "spearman": 0.7}}},
        ],
        "agents": [{"agent": "a", "splits": {"paper": {"gap_closed": 0.5}}, "intents": {"mean": 0.2, "se": 0.01}}],
    }


def test_markdown_one_row_per_entry_with_blank_cells_for_what_an_entry_cannot_do(tmp_path: Path) -> None:
    text = markdown(_board())
    assert "| one-city | FWM | 0.910 · — | 0.90 · — |  |  |  |  |  |" in text
    assert "| c | CDWM |  |  | 0.100 · — | 0.80 · — | 0.70 · — |  |  |" in text
    assert "| a | agent |  |  |  |  |  | — · — · — · 50 | +0.200 ± 0.010 |" in text
    leaderboard.figure(_board(), tmp_path / "board")
    assert (tmp_path / "board.png").stat().st_size > 0 and (tmp_path / "board.svg").is_file()


def test_cli_prints_a_written_leaderboard_and_refuses_other_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "leaderboard.json"
    path.write_text(json.dumps(_board()))
    assert main(["leaderboard", "--table", str(path)]) == 0
    assert "| one-city | FWM |" in capsys.readouterr().out
    path.write_text("{}")
    assert main(["leaderboard", "--table", str(path)]) == 2
    assert "not a written leaderboard" in capsys.readouterr().err
    assert main(["leaderboard", "--fwm", "no-such-model", "--out", str(tmp_path)]) == 2
    assert "fwm 'no-such-model'" in capsys.readouterr().err


def test_run_seeds_count_from_the_presets_first_seed(tmp_path: Path) -> None:
    from twm_gym.scenarios.splits import TEST_SEEDS_FROM

    args = ["run", "--preset", "generalization", "--agents", "uniform", "--scenarios", "tiny", "--seeds", "2"]
    assert main([*args, "--quiet", "--out", str(tmp_path)]) == 0
    seeds = {json.loads(line)["seed"] for line in (tmp_path / "records.jsonl").read_text().splitlines()}
    assert seeds == {TEST_SEEDS_FROM, TEST_SEEDS_FROM + 1}
