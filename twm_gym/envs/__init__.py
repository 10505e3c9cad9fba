"""Gymnasium, vector and PettingZoo faces of the twin: thin adapters over ``twm_gym.core``.

The vector env needs Gymnasium >= 1.1 (its autoreset modes); it is imported on first use, so the
single-agent envs and the PettingZoo env also run on Gymnasium 0.29.1 (CleanRL's pin).
"""

from typing import Any

from twm_gym.envs.field import FieldEnv
from twm_gym.envs.layout import OBSERVATION_KEYS, Layout
from twm_gym.envs.parallel import SlicingParallelEnv, env, parallel_env, raw_env
from twm_gym.envs.registration import SCENARIO_IDS, register_envs
from twm_gym.envs.reward import Reward
from twm_gym.envs.slicing import SlicingEnv

__all__ = [
    "OBSERVATION_KEYS",
    "SCENARIO_IDS",
    "FieldEnv",
    "Layout",
    "Reward",
    "SlicingEnv",
    "SlicingParallelEnv",
    "SlicingVectorEnv",
    "env",
    "parallel_env",
    "raw_env",
    "register_envs",
]


def __getattr__(name: str) -> Any:
    if name == "SlicingVectorEnv":
        from twm_gym.envs.vector import SlicingVectorEnv

        return SlicingVectorEnv
    raise AttributeError(f"module 'twm_gym.envs' has no attribute {name!r}")
