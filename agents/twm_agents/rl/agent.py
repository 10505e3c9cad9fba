"""A trained Stable-Baselines3 policy as a harness agent: ``ppo`` (the shipped checkpoint) or
``sb3:PATH`` (any checkpoint written by ``twm-bench train ppo|sac``).

The agent sees what it trained on: the observation mapped onto [0, 1] by the scenario's spaces
(:func:`twm_agents.rl.spaces.unit_observation`), and answers with the policy's [-1, 1] action mapped
onto the shares as the training env mapped it (the checkpoint's ``action_mode``: ``"relative"``,
share ``2**a / 3``; ``"shares"`` or absent, the linear map of ``RescaleAction``). It makes no
simulator call. Deterministic by default (the Gaussian's mean, SAC's squashed mean); with
``deterministic=False`` it samples with noise from the harness's generator for the agent, so
records are still reproducible given ``--agent-seed``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from twm_agents.base import Action, Agent, EpisodeContext, Observation
from twm_agents.checkpoint_io import CheckpointError
from twm_agents.rl.policy import load_policy
from twm_agents.rl.spaces import flat_bounds, shares_of, unit_observation

CHECKPOINTS = Path(__file__).resolve().parent / "checkpoints"
DEFAULT_PPO = CHECKPOINTS / "ppo"
"""The shipped PPO policy (recipe in docs/how-to/train-rl-agents.md)."""


class SB3Agent(Agent):
    """A policy trained by ``twm-bench train`` (PPO or SAC), scored like any other agent.

    Args:
        checkpoint: path of the checkpoint without suffix (``NAME.safetensors`` + ``NAME.json``).
        deterministic: act with the policy's mean (default) or sample from it.
    """

    name: ClassVar[str] = "sb3"

    def __init__(self, checkpoint: str | Path = DEFAULT_PPO, deterministic: bool = True) -> None:
        super().__init__()
        self.checkpoint = Path(checkpoint)
        self.deterministic = bool(deterministic)
        self.policy, self.meta = load_policy(self.checkpoint)
        self._bounds: tuple[list[str], Any, Any] | None = None

    def reset(self, context: EpisodeContext) -> None:
        super().reset(context)
        keys, low, high = flat_bounds(context.card.layout.observation_space())
        if keys != self.meta.get("observation_keys"):
            raise CheckpointError(
                f"{self.checkpoint}: trained on observation keys {self.meta.get('observation_keys')}, "
                f"the scenario {context.card.name!r} observes {keys}"
            )
        if context.card.layout.action_size != self.meta["action_size"]:
            raise CheckpointError(
                f"{self.checkpoint}: trained for {self.meta['action_size']} action entries, "
                f"the scenario {context.card.name!r} has {context.card.layout.action_size}"
            )
        self._bounds = (keys, low, high)

    def act(self, observation: Observation) -> Action:
        if self._bounds is None:
            raise RuntimeError("SB3Agent.act() before reset(context)")
        x = torch.as_tensor(unit_observation(observation, *self._bounds))[None]
        noise = None if self.deterministic else self.ctx.rng.standard_normal((1, self.meta["action_size"]))
        with torch.inference_mode():
            action = policy_action(self.policy, self.meta["algo"], x, noise)[0]
        self._t += 1
        if self.meta.get("action_mode", "shares") == "relative":
            return self.ctx.card.layout.pack(*self.ctx.card.layout.shares(action, "relative"))
        return shares_of(action)


def policy_action(policy: Any, algo: str, x: torch.Tensor, noise: np.ndarray | None = None) -> np.ndarray:
    """The [-1, 1] actions ``(B, m)`` of an SB3 policy for observations ``x (B, n)``: the mean, or
    the mean plus ``noise`` (standard normal draws, ``(B, m)``) times the policy's standard deviation
    (SAC: before its tanh squashing)."""
    if algo == "ppo":
        dist = policy.get_distribution(x).distribution
        mean, std = dist.mean, dist.stddev
        a = mean if noise is None else mean + std * torch.as_tensor(noise, dtype=mean.dtype)
        return np.clip(a.numpy(), -1.0, 1.0)
    mean, log_std, _ = policy.actor.get_action_dist_params(x)
    a = mean if noise is None else mean + log_std.exp() * torch.as_tensor(noise, dtype=mean.dtype)
    return np.asarray(torch.tanh(a).numpy())


class PPOAgent(SB3Agent):
    """The shipped PPO checkpoint (``agents/twm_agents/rl/checkpoints/ppo``) on the harness's scoreboard."""

    name: ClassVar[str] = "ppo"

    def __init__(self, deterministic: bool = True) -> None:
        super().__init__(DEFAULT_PPO, deterministic=deterministic)
