"""Gymnasium, vector and PettingZoo faces of the twin: thin adapters over ``twm_gym.core``."""

from twm_gym.envs.field import FieldEnv
from twm_gym.envs.layout import OBSERVATION_KEYS, Layout
from twm_gym.envs.parallel import SlicingParallelEnv, env, parallel_env, raw_env
from twm_gym.envs.registration import SCENARIO_IDS, register_envs
from twm_gym.envs.reward import Reward
from twm_gym.envs.slicing import SlicingEnv
from twm_gym.envs.vector import SlicingVectorEnv

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
