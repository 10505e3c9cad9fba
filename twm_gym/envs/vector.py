"""``gym.make_vec("TWM/Slicing-v0", num_envs=N)``: N episodes stepped by one batched core call.

Every sub-environment has a fixed horizon, so all N episodes end on the same step; the vector
env then resets them all in that same call (``AutoresetMode.SAME_STEP``): the returned
observation is the new episode's first, the last one is in ``info["final_obs"]`` and the final
step's info in ``info["final_info"]`` (Gymnasium's conventions). Sub-environment ``i`` draws its
exogenous seeds from its own generator, seeded ``seed + i`` by ``reset(seed=seed)``, so it
reproduces ``SlicingEnv`` reset with ``seed + i`` transition for transition.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.spaces import Box
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from numpy.typing import NDArray

from twm_gym.core.kpi import StepKPIs, step_kpis
from twm_gym.core.params import SLICES, Scenario
from twm_gym.core.shard import ShardedSimulation, concat
from twm_gym.core.sim import Simulation, Transition
from twm_gym.envs.layout import Observer, exo_seed_option, layout_for
from twm_gym.envs.reward import Reward, RewardFn
from twm_gym.scenarios import load_scenario

F32 = NDArray[np.float32]


class SlicingVectorEnv(VectorEnv[dict[str, Any], NDArray[Any], NDArray[Any]]):
    """``num_envs`` network-slicing episodes on the batched core (see :class:`~twm_gym.envs.slicing.SlicingEnv`).

    Args:
        num_envs: number of parallel episodes.
        scenario: scenario name, JSON path or :class:`Scenario` (default ``"hotspot-id"``).
        reward: as for ``SlicingEnv``.
        render_mode: ``"rgb_array"`` or ``"ansi"`` (rendered for sub-environment 0).
    """

    metadata = {  # noqa: RUF012 - an instance attribute in the base class
        "autoreset_mode": AutoresetMode.SAME_STEP,
        "render_modes": ["rgb_array", "ansi"],
    }

    def __init__(
        self,
        num_envs: int,
        scenario: str | Scenario = "hotspot-id",
        reward: Reward | RewardFn | None = None,
        render_mode: str | None = None,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs = num_envs
        self.scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
        self.render_mode = render_mode
        self.reward_fn: Reward | RewardFn = reward if reward is not None else Reward()
        self.layout = layout_for(self.scenario)
        self.observer = Observer(self.layout)
        self.single_action_space: Box = self.layout.action_space()
        self.single_observation_space = self.layout.observation_space()
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self._generators = [seeding.np_random(None)[0] for _ in range(num_envs)]
        self._sim: ShardedSimulation | None = None
        self._last: Transition | None = None
        self.exo_seeds: NDArray[np.int64] = np.zeros(num_envs, dtype=np.int64)

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if seed is not None:
            seeds = [seed + i for i in range(self.num_envs)] if isinstance(seed, int) else list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"seed has {len(seeds)} entries; expected num_envs = {self.num_envs}")
            self._generators = [seeding.np_random(s)[0] for s in seeds]
        exo = exo_seed_option(options)  # one seed per sub-environment
        self._start(None if exo is None else np.asarray(exo, dtype=np.int64).reshape(self.num_envs))
        info = {"t": np.zeros(self.num_envs, dtype=np.int64), "exo_seed": self.exo_seeds.copy()}
        return self._observe(), _mask_all(info, self.num_envs)

    def _start(self, exo_seeds: NDArray[np.int64] | None) -> None:
        if exo_seeds is None:
            exo_seeds = np.array([int(g.integers(2**62)) for g in self._generators], dtype=np.int64)
        self.exo_seeds = exo_seeds
        self._sim = ShardedSimulation(self.scenario, exo_seeds)
        self._last = None

    def step(
        self, actions: NDArray[Any]
    ) -> tuple[dict[str, Any], NDArray[Any], NDArray[Any], NDArray[Any], dict[str, Any]]:
        if self._sim is None:
            raise RuntimeError("call reset() before step()")
        p, b = self.layout.project(self.layout.validate(actions, "actions", batch=self.num_envs))
        sim = self._sim

        def shard_step(part: Simulation, rows: slice) -> tuple[Transition, StepKPIs, dict[str, F32]]:
            # Each shard also builds its KPIs and observations on its worker thread.
            tr = part.step_projected(p[rows], b[rows])
            res = tr.result
            kpis = step_kpis(self.scenario, res.offered, res.lost, res.urllc_delay, res.cost)
            return tr, kpis, self.observer.observe(part.t, tr.csw, tr.egw, tr.drivers, res)

        parts = sim.map_rows(shard_step)
        self._last = parts[0][0]  # sub-environment 0's shard: what render() shows
        kpis = concat([k for _, k, _ in parts])
        obs = {key: np.concatenate([o[key] for _, _, o in parts]) for key in parts[0][2]}
        rewards = np.asarray(self.reward_fn(kpis), dtype=np.float32).reshape(self.num_envs)
        n = self.num_envs
        info: dict[str, Any] = {
            "t": np.full(n, sim.t, dtype=np.int64),
            "cost": kpis.cost.astype(np.float64),
            "scm": kpis.scm.astype(np.float64),
            "d99_ms": kpis.d99_ms.astype(np.float64),
            "violation": kpis.global_violation.copy(),
        }
        for s, name in enumerate(SLICES):
            info[f"loss_{name}"] = kpis.loss[:, s].astype(np.float64)
        _mask_all(info, n)
        done = sim.done
        truncations = np.full(n, done)
        if done:
            info["episode_kpis"] = _mask_all(dict(sim.kpis().columns()), n)
            final_obs = np.empty(n, dtype=object)
            for i in range(n):
                final_obs[i] = {key: value[i] for key, value in obs.items()}
            final_info = {key: value for key, value in info.items()}
            self._start(None)
            obs = self._observe()
            info = _mask_all(
                {
                    "final_obs": final_obs,
                    "final_info": final_info,
                    "t": np.zeros(n, dtype=np.int64),
                    "exo_seed": self.exo_seeds.copy(),
                },
                n,
            )
        return obs, rewards, np.zeros(n, dtype=bool), truncations, info

    def _observe(self) -> dict[str, F32]:
        """The observation at reset (the nominal start state of every sub-environment)."""
        if self._sim is None:
            raise RuntimeError("call reset() first")
        return self.observer.observe(0, self._sim.csw, self._sim.egw, None, None)

    def render(self) -> Any:
        if self.render_mode is None or self._sim is None:
            return None
        from twm_gym import render

        if self.render_mode == "ansi":
            kpis = None
            if self._last is not None:
                res = self._last.result
                kpis = step_kpis(self.scenario, res.offered[:1], res.lost[:1], res.urllc_delay[:1], res.cost[:1])
            return render.ansi(self._sim.parts[0], kpis)
        return render.rgb_array(self._sim.parts[0], None if self._last is None else self._last.drivers)


def _mask_all(info: dict[str, Any], n: int) -> dict[str, Any]:
    """Add Gymnasium's ``_key`` masks (every sub-environment has every key)."""
    for key in [k for k in info if not k.startswith("_")]:
        info[f"_{key}"] = np.ones(n, dtype=bool)
    return info
