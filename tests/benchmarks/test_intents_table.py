"""The intents preset's docs table is the shipped summary; every test phrasing is reported."""

from pathlib import Path

from intents_table import markdown, read_csv
from twm_gym.intents import intent_episodes


def test_intents_docs__the_table_is_the_shipped_summary_and_every_phrasing_is_reported() -> None:
    root = Path(__file__).resolve().parents[2]
    page = (root / "docs" / "intents.md").read_text()
    begin, end = "<!-- intents:begin -->", "<!-- intents:end -->"
    block = page[page.index(begin) + len(begin) : page.index(end)].strip()
    assert block == markdown(read_csv(root / "docs" / "data" / "intents_kinds.csv")).strip(), (
        "run: python benchmarks/studies/intents_table.py --table docs/data/intents_kinds.csv"
    )
    reported = {row["intent"] for row in read_csv(root / "docs" / "data" / "intents.csv")}
    assert reported == set(intent_episodes("test"))
