"""CleanRL's own ``ppo_continuous_action.py``, unmodified, on a TWM id (marker ``cleanrl``).

The script is not part of this project (and not on PyPI in its current form): point
``CLEANRL_SCRIPT`` at a copy of ``cleanrl/ppo_continuous_action.py`` and run
``pytest -m cleanrl tests/examples/test_cleanrl.py`` in an environment with CleanRL's gymnasium pin
(0.29.1), ``tyro`` and ``tensorboard``; ``.ci/min_versions.sh`` does so when a copy is on the machine.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = os.environ.get("CLEANRL_SCRIPT", "")

pytestmark = [
    pytest.mark.cleanrl,
    pytest.mark.skipif(not Path(SCRIPT).is_file(), reason="CLEANRL_SCRIPT does not name CleanRL's script"),
]


def test_cleanrl__unmodified_ppo_continuous_action_runs_to_completion(tmp_path: Path) -> None:
    cmd = [sys.executable, SCRIPT, "--env-id", "twm_gym:TWM/Slicing-v0", "--total-timesteps", "4096", "--no-cuda"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # the script leaves torch's thread count at its default
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    returns = [float(x) for x in re.findall(r"episodic_return=\[?(-?[\d.]+)", run.stdout)]
    assert len(returns) >= 4096 // 12 - 1, run.stdout[-500:]  # every 12-step episode reported
    assert "SPS:" in run.stdout and list((tmp_path / "runs").iterdir())  # TensorBoard run written
