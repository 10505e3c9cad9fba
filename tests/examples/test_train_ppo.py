"""The shipped RL examples train on TWM/Slicing-v0 and beat the uniform allocation (fixed seeds, CPU)."""

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.slow
def test_train_ppo__reports_the_untrained_policy_beside_uniform_and_what_training_adds() -> None:
    spec = importlib.util.spec_from_file_location("train_ppo", EXAMPLES / "train_ppo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    returns = module.train_and_compare(timesteps=4_096, seed=0)
    assert list(returns) == ["uniform 1/3", "random", "PPO untrained", "PPO after 4096 steps"]  # 2 rollouts
    # the zero-mean untrained policy plays close to the uniform allocation (the relative form's centre)
    assert abs(returns["PPO untrained"] - returns["uniform 1/3"]) < 1.0, returns
    assert returns["random"] < returns["uniform 1/3"] - 5.0, returns


@pytest.mark.slow
def test_cleanrl_style_example__beats_uniform_within_30k_steps(tmp_path: Path) -> None:
    out = tmp_path / "eval.csv"
    cmd = [sys.executable, str(EXAMPLES / "cleanrl_ppo_continuous.py"), "--total-timesteps", "30000"]
    cmd += ["--eval-every", "30000", "--eval-episodes", "128", "--eval-csv", str(out), "--seed", "1"]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    rows = list(csv.DictReader(out.open()))
    untrained, trained = float(rows[0]["mean_return"]), float(rows[-1]["mean_return"])
    assert int(rows[-1]["step"]) <= 30_000
    # the untrained policy is the uniform allocation (zero mean action); training must beat it clearly
    assert trained > untrained + 1.0, rows
