"""Multi-agent PPO on the PettingZoo env: one policy shared by every cell agent and the transport agent.

``twm-bench train ippo`` trains independent PPO learners with parameter sharing (the standard
baseline for cooperative PettingZoo tasks): :func:`shared_policy_vec_env` turns ``n_envs`` copies of
:class:`~twm_gym.envs.parallel.SlicingParallelEnv` into an SB3 ``VecEnv`` with one slot per
(env, agent), as SuperSuit's ``pettingzoo_env_to_vec_env_v1`` does, so SB3's PPO trains the shared
policy on every agent's experience. The agents are heterogeneous (a cell observes 30 floats and
sets 3 PRB shares; the transport agent observes 152 and sets 30 link shares), so each slot's
observation is its own, mapped onto [0, 1] by its space's bounds, zero-padded to the longest and
prefixed by a one-hot agent indicator; each slot acts in ``Box(-1, 1, (30,))`` and a cell reads
the first 3 entries (SuperSuit's ``pad_observations``, ``pad_action_space`` and
``agent_indicator`` in a few lines, with no extra dependency). Rewards are the team's.

:class:`IPPOAgent` plays a trained shared policy in the harness (``ippo`` for the shipped
checkpoint, ``ippo:PATH`` for another): it splits the harness observation per agent exactly as the
PettingZoo env does and joins the agents' actions into the flat action.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from numpy.typing import NDArray

from twm_agents.base import Action, Agent, EpisodeContext, Observation
from twm_agents.checkpoint_io import CheckpointError
from twm_agents.rl.agent import CHECKPOINTS, policy_action
from twm_agents.rl.policy import load_policy, save_policy
from twm_agents.rl.spaces import shares_of
from twm_agents.rl.train import RLConfig, build_model, checkpoint_callback, mean_episode_return, torch_threads
from twm_gym.core.params import Scenario
from twm_gym.envs.parallel import SlicingParallelEnv

F32 = NDArray[np.float32]
DEFAULT_IPPO = CHECKPOINTS / "ippo"
"""The shipped shared-parameter multi-agent PPO policy (recipe in docs/how-to/train-rl-agents.md)."""


class AgentSlots:
    """How one parallel env's agents map onto padded, indicator-prefixed slots of a shared policy."""

    def __init__(self, env: SlicingParallelEnv) -> None:
        self.agents = list(env.possible_agents)
        obs_spaces = [env.observation_space(a) for a in self.agents]
        act_spaces = [env.action_space(a) for a in self.agents]
        self.low = [np.asarray(s.low, np.float32) for s in obs_spaces]
        self.high = [np.asarray(s.high, np.float32) for s in obs_spaces]
        self.obs_width = max(s.shape[0] for s in obs_spaces)
        self.act_sizes = [s.shape[0] for s in act_spaces]
        self.act_width = max(self.act_sizes)
        n = len(self.agents)
        self.observation_space = spaces.Box(0.0, 1.0, shape=(n + self.obs_width,), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(self.act_width,), dtype=np.float32)

    def observe(self, obs: dict[str, F32]) -> F32:
        """``(n_agents, n_agents + obs_width)``: indicator, then the scaled, padded observation."""
        n = len(self.agents)
        out = np.zeros((n, n + self.obs_width), np.float32)
        out[:, :n] = np.eye(n, dtype=np.float32)
        for i, agent in enumerate(self.agents):
            x = (np.asarray(obs[agent], np.float32) - self.low[i]) / (self.high[i] - self.low[i])
            out[i, n : n + x.size] = np.clip(x, 0.0, 1.0)
        return out

    def actions(self, raw: F32) -> dict[str, F32]:
        """Each agent's [0, 1] shares from the slots' ``(n_agents, act_width)`` [-1, 1] actions."""
        return {agent: shares_of(raw[i, : self.act_sizes[i]]) for i, agent in enumerate(self.agents)}


def shared_policy_vec_env(scenarios: Sequence[str | Scenario], n_envs: int, seed: int) -> Any:
    """An SB3 ``VecEnv`` with one slot per (env, agent); env ``i`` runs ``scenarios[i % len]``."""
    from stable_baselines3.common.vec_env import VecEnv

    class _Vec(VecEnv):  # type: ignore[misc]
        def __init__(self) -> None:
            self.envs = [SlicingParallelEnv(scenarios[i % len(scenarios)], action_mode="shares") for i in range(n_envs)]
            self.slots = AgentSlots(self.envs[0])
            for i, env in enumerate(self.envs[1:], 1):
                if AgentSlots(env).observation_space != self.slots.observation_space:
                    raise ValueError(f"scenario {scenarios[i % len(scenarios)]!r} has another agent layout")
            self.n_agents = len(self.slots.agents)
            self.render_mode = None
            super().__init__(n_envs * self.n_agents, self.slots.observation_space, self.slots.action_space)
            self._seed: int | None = seed
            self._actions: F32 | None = None
            self._returns = np.zeros(n_envs)
            self._lengths = np.zeros(n_envs, np.int64)
            self._start = time.perf_counter()

        def reset(self) -> F32:
            obs = []
            for i, env in enumerate(self.envs):
                o, _ = env.reset(seed=self._seed + i if self._seed is not None else None)
                obs.append(self.slots.observe(o))
            self._seed = None  # later resets continue each env's generator
            return np.concatenate(obs)

        def step_async(self, actions: np.ndarray) -> None:
            self._actions = np.asarray(actions, np.float32).reshape(len(self.envs), self.n_agents, -1)

        def step_wait(self) -> tuple[F32, F32, NDArray[np.bool_], list[dict[str, Any]]]:
            assert self._actions is not None, "step_async first"
            obs, rewards, dones, infos = [], [], [], []
            for i, env in enumerate(self.envs):
                o, r, term, trunc, _ = env.step(self.slots.actions(self._actions[i]))
                reward = float(next(iter(r.values())))
                done = bool(any(term.values()) or any(trunc.values()))
                self._returns[i] += reward
                self._lengths[i] += 1
                x = self.slots.observe(o)
                info: list[dict[str, Any]] = [{} for _ in range(self.n_agents)]
                if done:
                    for j in range(self.n_agents):
                        info[j] = {"terminal_observation": x[j], "TimeLimit.truncated": not any(term.values())}
                    info[0]["episode"] = {
                        "r": float(self._returns[i]),
                        "l": int(self._lengths[i]),
                        "t": round(time.perf_counter() - self._start, 3),
                    }
                    self._returns[i], self._lengths[i] = 0.0, 0
                    o, _ = env.reset()
                    x = self.slots.observe(o)
                obs.append(x)
                rewards.append(np.full(self.n_agents, reward, np.float32))
                dones.append(np.full(self.n_agents, done))
                infos.extend(info)
            return np.concatenate(obs), np.concatenate(rewards), np.concatenate(dones), infos

        def close(self) -> None:
            for env in self.envs:
                env.close()

        def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
            return [getattr(self, attr_name) for _ in self._get_indices(indices)]

        def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
            setattr(self, attr_name, value)

        def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list[Any]:
            raise NotImplementedError("the slots share parallel envs; call methods on .envs directly")

        def env_is_wrapped(
            self, wrapper_class: type[gym.Wrapper[Any, Any, Any, Any]], indices: Any = None
        ) -> list[bool]:
            return [False for _ in self._get_indices(indices)]

    return _Vec()


def scenarios_of(config: RLConfig) -> list[str]:
    """The scenario names behind ``config.envs`` (``TWM/Slicing-*`` ids)."""
    out = []
    for env_id in config.envs:
        scenario = gym.spec(env_id).kwargs.get("scenario")
        if not isinstance(scenario, str) or not env_id.startswith("TWM/Slicing"):
            raise ValueError(f"RLConfig.envs: {env_id!r} is not a TWM/Slicing-* id (the multi-agent env needs one)")
        out.append(scenario)
    return out


def train_ippo(config: RLConfig, out: str | Path, progress: Any = print) -> dict[str, Any]:
    """Train one PPO policy shared by every agent of the PettingZoo env; write its checkpoint."""
    if config.algo != "ppo":
        raise ValueError(f"RLConfig.algo: the multi-agent trainer is PPO, got {config.algo!r}")
    with torch_threads(config.threads):
        return _train_ippo(config, out, progress)


def _train_ippo(config: RLConfig, out: str | Path, progress: Any) -> dict[str, Any]:
    from stable_baselines3.common.vec_env import VecMonitor

    torch.manual_seed(config.seed)
    base = Path(out)
    vec = shared_policy_vec_env(scenarios_of(config), config.n_envs, config.seed)
    agents = list(vec.slots.agents)
    model = build_model(config, VecMonitor(vec), base.parent / f"{base.name}_logs")
    start = time.perf_counter()

    def meta(m: Any) -> dict[str, Any]:
        return {
            "kind": "ippo",
            "timesteps": int(m.num_timesteps),
            "team_steps": int(m.num_timesteps) // len(agents),
            "train_s": round(time.perf_counter() - start, 1),
            "train_mean_return": mean_episode_return(m),
        }

    if progress is not None:
        progress(
            f"training shared PPO for {len(agents)} agents x {config.n_envs} envs for {config.timesteps} agent steps"
        )
    model.learn(total_timesteps=config.timesteps, callback=checkpoint_callback(config, out, agents, meta, progress))
    record = save_policy(model, out, config, agents, meta(model))
    vec.close()
    model.logger.close()  # SB3 keeps progress.csv (and event files) open until its logger is closed
    if progress is not None:
        progress(f"wrote {base}.safetensors/.json after {record['timesteps']} agent steps in {record['train_s']} s")
    return record


class IPPOAgent(Agent):
    """A shared multi-agent PPO policy (``twm-bench train ippo``) acting for every cell and the
    transport network at once.

    Args:
        checkpoint: path without suffix (default: the shipped one).
        deterministic: act with the policy's mean (default) or sample with the agent's generator.
    """

    name: ClassVar[str] = "ippo"

    def __init__(self, checkpoint: str | Path = DEFAULT_IPPO, deterministic: bool = True) -> None:
        super().__init__()
        self.checkpoint = Path(checkpoint)
        self.deterministic = bool(deterministic)
        self.policy, self.meta = load_policy(self.checkpoint)
        if self.meta.get("kind") != "ippo":
            raise CheckpointError(f"{self.checkpoint}: not a multi-agent checkpoint (kind {self.meta.get('kind')!r})")
        self._env: SlicingParallelEnv | None = None
        self._slots: AgentSlots | None = None

    def reset(self, context: EpisodeContext) -> None:
        super().reset(context)
        if self._env is None or self._env.env.scenario != context.card.nominal:
            self._env = SlicingParallelEnv(context.card.nominal, action_mode="shares")
            self._slots = AgentSlots(self._env)
            if self._slots.agents != self.meta.get("observation_keys"):
                raise CheckpointError(
                    f"{self.checkpoint}: trained for agents {self.meta.get('observation_keys')}, "
                    f"the scenario {context.card.name!r} has {self._slots.agents}"
                )

    def act(self, observation: Observation) -> Action:
        if self._env is None or self._slots is None:
            raise RuntimeError("IPPOAgent.act() before reset(context)")
        x = torch.as_tensor(self._slots.observe(self._env._split(observation, self._slots.agents)))
        noise = None if self.deterministic else self.ctx.rng.standard_normal((x.shape[0], self._slots.act_width))
        with torch.inference_mode():
            shares = self._slots.actions(policy_action(self.policy, "ppo", x, noise))
        self._t += 1
        cells = [shares[a] for a in self._slots.agents[:-1]]
        return np.concatenate([*cells, shares[self._slots.agents[-1]]]).astype(np.float32)
