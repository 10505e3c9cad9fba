"""What a learned policy sees and emits: the observation scaled to [0, 1], actions in [-1, 1].

Stable-Baselines3 (and most RL libraries) learn best on inputs of similar scale and Gaussian
actions centred on 0. ``TWM/Slicing-v0`` observes a ``Dict`` whose keys span [0, 1], [0, 10]
(demand ratios) and [-20, 30] dB (SINR), and acts in [0, 1]. :class:`UnitObservation` flattens the
``Dict`` in its space's key order (Gymnasium sorts a ``Dict``'s keys) and maps every entry onto
[0, 1] by its bounds (a fixed map: nothing to fit, nothing to store beside the weights);
Gymnasium's ``RescaleAction`` maps the policy's [-1, 1] onto the shares. The harness agent applies
the same two maps (:func:`unit_observation`, :func:`shares_of`), so training and scoring agree.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.wrappers import RescaleAction
from numpy.typing import NDArray

F32 = NDArray[np.float32]


def flat_bounds(space: spaces.Dict) -> tuple[list[str], F32, F32]:
    """``(keys, low, high)`` of a ``Dict`` of ``Box``es, flattened in the space's key order."""
    keys = list(space.spaces)
    low = np.concatenate([np.asarray(space[k].low, np.float32).reshape(-1) for k in keys])  # type: ignore[attr-defined]
    high = np.concatenate([np.asarray(space[k].high, np.float32).reshape(-1) for k in keys])  # type: ignore[attr-defined]
    return keys, low, high


def unit_observation(obs: dict[str, Any], keys: list[str], low: F32, high: F32) -> F32:
    """The ``Dict`` observation ``obs`` flattened in ``keys`` order, each entry mapped onto [0, 1]."""
    flat = np.concatenate([np.asarray(obs[k], np.float32).reshape(-1) for k in keys])
    return np.clip((flat - low) / (high - low), 0.0, 1.0).astype(np.float32)


def shares_of(action: NDArray[Any]) -> F32:
    """The env's [0, 1] shares of a policy action in [-1, 1] (what ``RescaleAction`` does)."""
    return np.clip((np.asarray(action, np.float32) + 1.0) * 0.5, 0.0, 1.0).astype(np.float32)


class UnitObservation(gym.ObservationWrapper[F32, Any, Any]):
    """Flattens a ``Dict`` of 1-D ``Box``es into one ``Box(0, 1)`` vector, each entry scaled by its bounds."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        if not isinstance(env.observation_space, spaces.Dict):
            raise TypeError(f"UnitObservation needs a Dict observation space, got {env.observation_space}")
        self.keys, self.low, self.high = flat_bounds(env.observation_space)
        if not (np.all(np.isfinite(self.low)) and np.all(np.isfinite(self.high)) and np.all(self.high > self.low)):
            raise ValueError("UnitObservation needs finite bounds with high > low on every entry")
        self.observation_space = spaces.Box(0.0, 1.0, shape=self.low.shape, dtype=np.float32)

    def observation(self, observation: dict[str, Any]) -> F32:
        return unit_observation(observation, self.keys, self.low, self.high)


def wrap_for_learning(env: gym.Env[Any, Any]) -> gym.Env[Any, Any]:
    """``env`` with unit observations and [-1, 1] actions: the spaces every policy here trains on."""
    return RescaleAction(UnitObservation(env), np.float32(-1.0), np.float32(1.0))
