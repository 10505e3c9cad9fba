"""The RLlib example trains PPO on a TWM env for one tiny iteration and writes a checkpoint.

Run it where the ``rllib`` extra is installed (its own environment: Ray 2.60's rllib pins
gymnasium 1.2)::

    pytest -m rllib tests/examples/test_train_rllib.py
"""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "train_rllib.py"


@pytest.mark.rllib
def test_rllib_ppo__one_iteration_on_loopback(tmp_path: Path) -> None:
    pytest.importorskip("ray.rllib")
    out = tmp_path / "ckpt"
    argv = [
        sys.executable,
        str(EXAMPLE),
        "--iterations",
        "1",
        "--env-runners",
        "1",
        "--batch",
        "384",
        "--out",
        str(out),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "iteration 1:" in done.stdout and "mean episode return" in done.stdout
    assert out.is_dir() and any(out.iterdir())
