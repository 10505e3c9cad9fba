"""twm-gym: the Telecom World Models network-slicing twin, its environments and benchmark.

Importing ``twm_gym`` registers the ``TWM/*`` Gymnasium ids. ``twm_gym.parallel_env(...)`` is the
PettingZoo parallel env; ``twm_gym.aec_env(...)`` its AEC version.
"""

from twm_gym.envs import aec_env, parallel_env, register_envs

__version__ = "0.1.0"

register_envs()

__all__ = ["__version__", "aec_env", "parallel_env"]
