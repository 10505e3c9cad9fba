"""PettingZoo's naming for the multi-agent slicing env: ``from twm_gym import slicing_v0``.

``slicing_v0.parallel_env(...)``, ``slicing_v0.env(...)`` (AEC, order-enforcing) and
``slicing_v0.raw_env(...)`` (AEC, unwrapped), as PettingZoo's own environment modules offer them;
see :class:`twm_gym.envs.parallel.SlicingParallelEnv`.
"""

from twm_gym.envs.parallel import env, parallel_env, raw_env

__all__ = ["env", "parallel_env", "raw_env"]
