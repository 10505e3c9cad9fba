"""The PettingZoo face: one agent per cell (its PRB shares) and one transport agent (link shares).

Native parallel API, with PettingZoo's three module-level constructors (also importable as
``from twm_gym import slicing_v0``): :func:`parallel_env`, :func:`env` (the AEC version by
``parallel_to_aec``, order-enforcing) and :func:`raw_env` (the AEC version unwrapped). Underneath
is one :class:`~twm_gym.envs.slicing.SlicingEnv`: the same core, the same episode.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray
from pettingzoo import ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec, parallel_to_aec_wrapper
from pettingzoo.utils.env import AECEnv

from twm_gym.core.params import Scenario
from twm_gym.envs.layout import OBSERVATION_KEYS
from twm_gym.envs.reward import Reward, RewardFn
from twm_gym.envs.slicing import SlicingEnv
from twm_gym.render import RENDER_MODES

F32 = NDArray[np.float32]

TRANSPORT = "transport_0"
_WHAT = ("PRB shares (eMBB, URLLC, FWA)", "link bandwidth shares (3 per link)")
_SHARED = ("csw_slice_loss", "egw_hotspot", "egw_wave", "egw_time")  # every agent sees these


class SlicingParallelEnv(ParallelEnv[str, F32, F32]):
    """Multi-agent network slicing: ``cell_0 .. cell_{C-1}`` and ``transport_0``.

    * ``cell_c`` acts with ``Box(-1, 1, (3,))``: its PRB shares (eMBB, URLLC, FWA); it observes
      its own row of every per-cell key of ``TWM/Slicing-v0`` (shares, backlog, utilization, route,
      latency; demand, capacity, SINR, activity) plus the shared keys (slice loss, shocks, time):
      30 floats.
    * ``transport_0`` acts with ``Box(-1, 1, (3 L,))``: the bandwidth shares of every link; it observes
      the per-link keys (shares, backlog, utilization, link up, available capacity), every cell's
      demand and the shared keys.

    Actions take ``SlicingEnv``'s forms: ``action_mode="relative"`` (default; entry ``a`` asks for
    the share ``2**a / 3``) or ``"shares"`` (``Box(0, 1)`` boxes, the shares themselves).
    ``reset(options={"exo_seed": s})`` fixes the exogenous seed; other option keys are ignored.
    Observations are flat float32 ``Box``es whose bounds come from the single-agent keys. Rewards
    are cooperative: every agent receives the team's step reward (``SlicingEnv``'s, default
    ``SCM - 0.5 cost - 1[SLA violated]``). Episodes truncate after the horizon for all agents together.

    ``state()`` is the global state for centralized critics: the whole single-agent observation
    (both worlds, every cell and link), flattened in ``OBSERVATION_KEYS`` order into ``state_space``,
    a float32 ``Box`` of ``sum(sizes)`` entries (302 for the default city).

    Args:
        scenario: scenario name, JSON path or :class:`Scenario`.
        reward: as for ``SlicingEnv``.
        render_mode: ``None``, ``"rgb_array"``, ``"ansi"`` or ``"human"`` (as ``SlicingEnv``).
        action_mode: ``"relative"`` (default) or ``"shares"``.
    """

    metadata = {  # noqa: RUF012 - an instance attribute in the base class
        "name": "twm_slicing_v0",
        "render_modes": RENDER_MODES,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        scenario: str | Scenario = "hotspot-id",
        reward: Reward | RewardFn | None = None,
        render_mode: str | None = None,
        action_mode: str = "relative",
    ) -> None:
        self.env = SlicingEnv(scenario, reward=reward, render_mode=render_mode, action_mode=action_mode)
        self.render_mode = render_mode
        self._state: F32 | None = None
        layout = self.env.layout
        c, n_links = layout.n_cells, layout.n_links
        self.possible_agents = [f"cell_{i}" for i in range(c)] + [TRANSPORT]
        self.agents: list[str] = []
        offsets, start = {}, 0
        for key, size in layout.sizes.items():
            offsets[key] = start
            start += size
        low = np.concatenate([np.full(s, OBSERVATION_KEYS[k][1], np.float32) for k, s in layout.sizes.items()])
        high = np.concatenate([np.full(s, OBSERVATION_KEYS[k][2], np.float32) for k, s in layout.sizes.items()])
        self._index: dict[str, NDArray[np.int64]] = {}
        shared = [np.arange(offsets[k], offsets[k] + layout.sizes[k]) for k in _SHARED]
        for i in range(c):
            parts = []
            for key, (expr, *_rest) in OBSERVATION_KEYS.items():
                if key in _SHARED or expr not in ("C", "C*S"):
                    continue
                width = 3 if expr == "C*S" else 1
                parts.append(np.arange(offsets[key] + width * i, offsets[key] + width * (i + 1)))
            self._index[f"cell_{i}"] = np.concatenate(parts + shared)
        parts = [
            np.arange(offsets[k], offsets[k] + layout.sizes[k])
            for k, (expr, *_rest) in OBSERVATION_KEYS.items()
            if expr in ("L", "L*S") or k == "egw_demand"
        ]
        self._index[TRANSPORT] = np.concatenate(parts + shared)
        self._obs_spaces = {
            agent: spaces.Box(low[idx], high[idx], dtype=np.float32) for agent, idx in self._index.items()
        }
        lo = -1.0 if action_mode == "relative" else 0.0
        self._act_spaces = {agent: spaces.Box(lo, 1.0, shape=(3,), dtype=np.float32) for agent in self.possible_agents}
        self._act_spaces[TRANSPORT] = spaces.Box(lo, 1.0, shape=(3 * n_links,), dtype=np.float32)
        self._keys = list(layout.sizes)
        self._state_space = spaces.Box(low, high, dtype=np.float32)

    def observation_space(self, agent: str) -> spaces.Box:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> spaces.Box:
        return self._act_spaces[agent]

    def _split(self, obs: dict[str, F32], agents: list[str]) -> dict[str, F32]:
        flat = self._state = np.concatenate([obs[k] for k in self._keys])
        return {agent: flat[self._index[agent]] for agent in agents}

    @property
    def state_space(self) -> spaces.Box:  # type: ignore[override]
        """The global state's space: the single-agent observation flattened (see the class docstring)."""
        return self._state_space

    def state(self) -> F32:
        """The global state after the last ``reset`` or ``step`` (a copy), in ``state_space``."""
        if self._state is None:
            raise RuntimeError("call reset() before state()")
        return self._state.copy()

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, F32], dict[str, dict[str, Any]]]:
        # PettingZoo's API test passes arbitrary options: only the known one is forwarded.
        known = {k: v for k, v in (options or {}).items() if k == "exo_seed"}
        obs, info = self.env.reset(seed=seed, options=known)
        self.agents = list(self.possible_agents)
        return self._split(obs, self.agents), {agent: dict(info) for agent in self.agents}

    def step(
        self, actions: dict[str, F32]
    ) -> tuple[dict[str, F32], dict[str, float], dict[str, bool], dict[str, bool], dict[str, dict[str, Any]]]:
        if not self.agents:
            raise RuntimeError("the episode is over (no live agents): call reset()")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"actions missing for agents {missing}; every live agent acts each step")
        unknown = sorted(set(actions) - set(self.possible_agents))
        if unknown:
            raise ValueError(f"unknown agents {unknown}; valid: {self.possible_agents}")
        flat = np.concatenate([self._agent_action(agent, actions[agent]) for agent in self.possible_agents])
        try:  # the env validates the joint action before it steps; on error, name the agent
            obs, reward, terminated, truncated, info = self.env.step(flat)
        except ValueError:
            self._check_values(flat)
            raise
        agents = list(self.agents)
        out = self._split(obs, agents)
        rewards = {a: float(reward) for a in agents}
        terms = {a: bool(terminated) for a in agents}
        truncs = {a: bool(truncated) for a in agents}
        infos = {a: dict(info) for a in agents}
        if terminated or truncated:
            self.agents = []
        return out, rewards, terms, truncs, infos

    def _agent_action(self, agent: str, action: Any) -> F32:
        """One agent's action as a flat float32 array, or ``ValueError`` naming the agent."""
        expected = self._act_spaces[agent].shape[0]
        try:
            a = np.asarray(action, dtype=np.float32).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"actions[{agent!r}] is not numeric: {action!r}") from exc
        if a.shape != (expected,):
            raise ValueError(
                f"actions[{agent!r}] has {a.size} entries; expected {expected} {_WHAT[agent == TRANSPORT]}"
            )
        return a

    def _check_values(self, flat: F32) -> None:
        """Raise for the first NaN, inf (and, for shares, negative) entry of the joint action, by agent."""
        shares = self.env.action_mode == "shares"
        if np.isfinite(flat).all() and (not shares or (flat >= 0).all()):
            return
        i = int(np.flatnonzero(~np.isfinite(flat) | ((flat < 0) if shares else False))[0])
        c = self.env.layout.n_cells
        agent, j = (f"cell_{i // 3}", i % 3) if i < 3 * c else (TRANSPORT, i - 3 * c)
        rule = "finite and >= 0" if shares else "finite"
        raise ValueError(f"actions[{agent!r}][{j}] is {flat[i]}; {_WHAT[agent == TRANSPORT]} must be {rule}")

    def render(self) -> Any:
        return self.env.render()

    def close(self) -> None:
        self.env.close()


def parallel_env(**kwargs: Any) -> SlicingParallelEnv:
    """``parallel_env(scenario=..., reward=..., render_mode=...)``: the parallel env."""
    return SlicingParallelEnv(**kwargs)


def env(**kwargs: Any) -> AECEnv[str, F32, F32]:
    """The same env under PettingZoo's AEC API (``parallel_to_aec``, order-enforcing)."""
    return parallel_to_aec(SlicingParallelEnv(**kwargs))


def raw_env(**kwargs: Any) -> AECEnv[str, F32, F32]:
    """The AEC env without PettingZoo's order-enforcing wrapper."""
    return parallel_to_aec_wrapper(SlicingParallelEnv(**kwargs))
