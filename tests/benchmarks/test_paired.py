"""The paired comparison: common random numbers per episode, options and seeds parsed with clear errors."""

import pytest

from paired import compare, parse_options, parse_seeds


def test_parse_options_and_seeds() -> None:
    assert parse_options(["lock_in=false", "samples=8", "pessimism=0.5", "handover="]) == {
        "lock_in": False,
        "samples": 8,
        "pessimism": 0.5,
        "handover": "",
    }
    with pytest.raises(ValueError, match="key=value"):
        parse_options(["lock_in"])
    assert parse_seeds("3:6") == [3, 4, 5] and parse_seeds("1,9") == [1, 9]
    with pytest.raises(ValueError, match="--seeds"):
        parse_seeds("a:b")


def test_an_agent_against_itself_differs_nowhere() -> None:
    table = compare("random", "random", {}, {}, [0, 1], workers=1)
    for row in table.values():
        assert row["diff"] == 0.0 and row["same"] == 2.0 and row["utility_a"] == row["utility_b"]
        assert row["scm_diff"] == 0.0
    table = compare("uniform", "oracle", {}, {}, [0, 1], workers=1, scenarios=("wave-id",))
    assert list(table) == ["wave-id"]
    row = table["wave-id"]
    assert row["closed_a"] == 0.0 and row["closed_b"] == pytest.approx(1.0)
    assert row["scm_diff"] == pytest.approx(row["scm_b"] - row["scm_a"])
