"""The intents preset's shipped summary reports every test phrasing (its docs table: tests/test_docs.py)."""

from pathlib import Path

from intents_table import read_csv
from twm_gym.intents import intent_episodes


def test_intents_record__every_test_phrasing_is_reported() -> None:
    root = Path(__file__).resolve().parents[2]
    reported = {row["intent"] for row in read_csv(root / "docs" / "data" / "intents.csv")}
    assert reported == set(intent_episodes("test"))
