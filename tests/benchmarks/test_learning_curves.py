"""The learning-curve study: whole rollouts never past the step budget, and rl.md's table from its record."""

from pathlib import Path

from learning_curves import run_one

ROOT = Path(__file__).resolve().parents[2]


def test_learning_curves__trains_in_whole_rollouts_within_the_budget() -> None:
    trainer, seed, rows, _seconds = run_one(("twm-bench-ppo", 1, 2_500, 1_024, 8, 0))
    assert (trainer, seed) == ("twm-bench-ppo", 1)
    assert [step for step, _ in rows] == [0, 1_024, 2_048]  # 8 envs x 128 steps a rollout; 3,072 > 2,500
    assert all(r < 20 for _, r in rows)
