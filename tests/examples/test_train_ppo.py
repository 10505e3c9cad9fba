"""The SB3 PPO example trains on TWM/Slicing-v0 and beats the random policy (fixed seed)."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "train_ppo.py"


@pytest.mark.slow
def test_ppo__beats_random_after_a_short_run() -> None:
    spec = importlib.util.spec_from_file_location("train_ppo", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    trained, random, _ = module.train_and_compare(timesteps=4_000, seed=0)
    assert trained > random + 2.0, (trained, random)  # a margin, not a tie
