"""twm-gym: the Telecom World Models network-slicing twin, its environments and benchmark.

Importing ``twm_gym`` registers the ``TWM/*`` Gymnasium ids. ``twm_gym.parallel_env(...)`` is the
PettingZoo parallel env; ``twm_gym.slicing_v0`` has PettingZoo's ``env`` / ``parallel_env`` /
``raw_env`` constructors.
"""

from twm_gym import slicing_v0
from twm_gym.envs import parallel_env, register_envs

__version__ = "0.1.0"

register_envs()

__all__ = ["__version__", "parallel_env", "slicing_v0"]
