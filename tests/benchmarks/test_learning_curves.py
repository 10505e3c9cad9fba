"""The learning-curve study: whole rollouts never past the step budget, and rl.md's table from its record."""

from pathlib import Path

from learning_curves import read_csv, run_one, table

ROOT = Path(__file__).resolve().parents[2]
BEGIN, END = "<!-- learning_curves:begin -->", "<!-- learning_curves:end -->"


def test_learning_curves__trains_in_whole_rollouts_within_the_budget() -> None:
    trainer, seed, rows, _seconds = run_one(("twm-bench-ppo", 1, 2_500, 1_024, 8, 0))
    assert (trainer, seed) == ("twm-bench-ppo", 1)
    assert [step for step, _ in rows] == [0, 1_024, 2_048]  # 8 envs x 128 steps a rollout; 3,072 > 2,500
    assert all(r < 20 for _, r in rows)


def test_rl_docs__learning_table_is_generated_from_the_shipped_record() -> None:
    page = (ROOT / "docs" / "rl.md").read_text()
    block = page[page.index(BEGIN) + len(BEGIN) : page.index(END)].strip()
    expected = table(*read_csv(ROOT / "docs" / "data" / "learning_curves.csv")).strip()
    assert block == expected, "run: python benchmarks/studies/learning_curves.py --table docs/data/learning_curves.csv"
