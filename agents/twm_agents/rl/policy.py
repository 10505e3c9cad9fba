"""Learned policies on disk: SB3 policy weights in safetensors, their shape in JSON, no pickle.

Stable-Baselines3's ``model.save`` writes a zip with pickled objects (``cloudpickle`` of the
spaces, schedules and kwargs) that runs code when loaded. The project never writes or reads it: a
checkpoint is the policy's ``state_dict`` (``NAME.safetensors``) and JSON (``NAME.json``) with the
algorithm, the network shape, the spaces' sizes, the observation keys, the training config and the
weights' SHA-256 (``agents/twm_agents/checkpoint_io.py``, shared with the world models). :func:`load_policy`
rebuilds the SB3 policy class from the JSON and loads the weights into it, so any checkpoint, ours
or a user's, is safe to open.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from twm_agents.checkpoint_io import CheckpointError, load, reading, save

FORMAT = "twm-sb3-policy/1"


ALGOS = ("ppo", "sac")
"""The supported Stable-Baselines3 algorithms."""


def algo_class(name: str) -> Any:
    """The SB3 class of algorithm ``name`` (imported here, not at package import)."""
    from stable_baselines3 import PPO, SAC

    classes = {"ppo": PPO, "sac": SAC}
    if name not in classes:
        raise ValueError(f"algorithm {name!r} is not one of {list(ALGOS)}")
    return classes[name]


def save_policy(
    model: Any, out: str | Path, config: Any, observation_keys: list[str], meta: dict[str, Any]
) -> dict[str, Any]:
    """Write ``model.policy`` (SB3 PPO or SAC) and its description to ``out``, atomically.

    ``observation_keys``: the ``Dict`` keys the flat observation concatenates, in order.
    """
    import stable_baselines3

    algo = next(name for name in ALGOS if isinstance(model, algo_class(name)))
    obs_space, act_space = model.observation_space, model.action_space
    if not (isinstance(obs_space, spaces.Box) and isinstance(act_space, spaces.Box)):
        raise TypeError(f"save_policy needs Box observation and action spaces, got {obs_space} and {act_space}")
    record = {
        "algo": algo,
        "observation_size": int(np.prod(obs_space.shape)),
        "action_size": int(np.prod(act_space.shape)),
        "net_arch": list(config.net_arch),
        "log_std_init": float(config.log_std_init),
        "config": dataclasses.asdict(config),
        "versions": {"stable_baselines3": stable_baselines3.__version__, "torch": torch.__version__},
        **meta,
    }
    state = dict(model.policy.state_dict())
    _, meta_path = save(out, FORMAT, {"observation_keys": list(observation_keys)}, state, {}, record)
    return record | {"path": str(meta_path.with_suffix(""))}


def load_policy(path: str | Path, device: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """``(policy, meta)``: the SB3 policy module of checkpoint ``path`` in eval mode, and its JSON.

    Raises :class:`~twm_agents.checkpoint_io.CheckpointError` for a missing, tampered or foreign file.
    """
    with reading(path):
        state, _, meta = load(path, FORMAT, {})
        if meta.get("algo") not in ALGOS:
            raise CheckpointError(f"{path}: algo {meta.get('algo')!r} is not one of {list(ALGOS)}")
        obs_space = spaces.Box(0.0, 1.0, shape=(int(meta["observation_size"]),), dtype=np.float32)
        act_space = spaces.Box(-1.0, 1.0, shape=(int(meta["action_size"]),), dtype=np.float32)
        policy_class = algo_class(meta["algo"]).policy_aliases["MlpPolicy"]
        kwargs: dict[str, Any] = {"net_arch": list(meta["net_arch"])}
        if meta["algo"] == "ppo":
            kwargs["log_std_init"] = float(meta["log_std_init"])
        policy = policy_class(obs_space, act_space, lambda _: 0.0, **kwargs)
        try:
            policy.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"{path}: weights do not fit the policy described in its JSON ({exc})") from exc
        policy.set_training_mode(False)
        return policy.to(device), meta
