"""``gym.make_vec("TWM/Slicing-v0", num_envs=N)``: N episodes stepped by one batched core call.

Autoreset follows Gymnasium's modes (https://farama.org/Vector-Autoreset-Mode):

* ``NEXT_STEP`` (the default, as in Gymnasium's own vector envs): the step after an episode ends
  resets that sub-environment, ignores its action and returns its first observation with reward 0;
* ``SAME_STEP``: the ending step resets it at once; the final observation is in
  ``info["final_obs"]`` and the final step's info in ``info["final_info"]``;
* ``DISABLED``: the caller resets ended sub-environments with ``reset(options={"reset_mask": m})``.

Every Gymnasium vector wrapper reads the mode from ``metadata["autoreset_mode"]``. Sub-environment
``i`` draws its exogenous seeds from its own generator, seeded ``seed + i`` by ``reset(seed=seed)``,
so it reproduces ``SlicingEnv`` reset with ``seed + i`` transition for transition, in any mode.

Sub-environments that started together step as one batch of the core (a *cohort*). Every episode
has the same horizon, so without ``reset_mask`` all N stay one cohort; a masked reset starts a new
cohort for the masked rows (their old rows are stepped to the end of that episode and discarded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
from twm_gym.envs.layout import Observer, check_action_mode, check_exo_seeds, layout_for
from twm_gym.envs.reward import Reward, RewardFn
from twm_gym.render import RENDER_MODES, HumanWindow, check_render_mode
from twm_gym.scenarios import load_scenario

F32 = NDArray[np.float32]
_MODES = {mode.value: mode for mode in AutoresetMode}


@dataclass
class _Cohort:
    """Sub-environments that started an episode together: one batched simulation."""

    rows: NDArray[np.int64]  # which sub-environments the simulation's rows are
    sim: ShardedSimulation
    live: NDArray[np.bool_]  # rows still owned by this cohort (False: reset away by reset_mask)
    last: Transition | None = None  # the last step of the first shard (what render() shows)
    full: bool = field(default=False)  # rows == arange(num_envs), every row live: no scatter needed


class SlicingVectorEnv(VectorEnv[dict[str, Any], NDArray[Any], NDArray[Any]]):
    """``num_envs`` network-slicing episodes on the batched core (see :class:`~twm_gym.envs.slicing.SlicingEnv`).

    Args:
        num_envs: number of parallel episodes.
        scenario: scenario name, JSON path or :class:`Scenario` (default ``"hotspot-id"``).
        reward: as for ``SlicingEnv``.
        render_mode: ``None``, ``"rgb_array"``, ``"ansi"`` or ``"human"`` (sub-environment 0).
        autoreset_mode: an :class:`~gymnasium.vector.AutoresetMode` or its value
            (``"NextStep"``, ``"SameStep"``, ``"Disabled"``); default ``NEXT_STEP``.
        action_mode: ``"relative"`` (default) or ``"shares"``, as for ``SlicingEnv``.

    ``reset(options=...)`` accepts ``exo_seed`` (one exogenous seed per sub-environment, or per
    masked one) and ``reset_mask`` (a ``(num_envs,)`` bool array: reset only those). Rewards are
    float64, terminations and truncations bool, as in Gymnasium's vector envs.
    """

    metadata = {  # noqa: RUF012 - an instance attribute in the base class
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": RENDER_MODES,
    }

    def __init__(
        self,
        num_envs: int,
        scenario: str | Scenario = "hotspot-id",
        reward: Reward | RewardFn | None = None,
        render_mode: str | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        action_mode: str = "relative",
    ) -> None:
        if not isinstance(num_envs, int | np.integer) or num_envs < 1:
            raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        self.render_mode = check_render_mode(render_mode)
        self._window = HumanWindow("TWM/Slicing (sub-environment 0)")
        mode = _MODES.get(autoreset_mode) if isinstance(autoreset_mode, str) else autoreset_mode
        if not isinstance(mode, AutoresetMode):
            raise ValueError(f"autoreset_mode {autoreset_mode!r} is not one of {[m.value for m in AutoresetMode]}")
        self.num_envs = int(num_envs)
        self.autoreset_mode = mode
        self.metadata = {**type(self).metadata, "autoreset_mode": mode}
        self.scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
        self.reward_fn: Reward | RewardFn = reward if reward is not None else Reward()
        self.layout = layout_for(self.scenario)
        self.observer = Observer(self.layout)
        self.action_mode = check_action_mode(action_mode)
        self.single_action_space: Box = self.layout.action_space(action_mode)
        self.single_observation_space = self.layout.observation_space()
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self._generators = [seeding.np_random(None)[0] for _ in range(self.num_envs)]
        self._cohorts: list[_Cohort] = []
        self._ended = np.zeros(self.num_envs, dtype=bool)  # ended on the last step, not yet reset
        self.exo_seeds: NDArray[np.int64] = np.zeros(self.num_envs, dtype=np.int64)

    # ----------------------------------------------------------------------------------- reset
    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        options = dict(options or {})
        mask = self._reset_mask(options.pop("reset_mask", None))
        exo = check_exo_seeds(options.pop("exo_seed", None))
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; valid: ['exo_seed', 'reset_mask']")
        rows = np.flatnonzero(mask)
        if seed is not None:
            seeds = [seed + i for i in range(self.num_envs)] if isinstance(seed, int) else list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"seed has {len(seeds)} entries; expected num_envs = {self.num_envs}")
            for i in rows:
                self._generators[i] = seeding.np_random(seeds[i])[0]
        exo_seeds = None
        if exo is not None:
            exo_seeds = np.asarray(exo, dtype=np.int64).reshape(-1)
            if exo_seeds.shape[0] not in (self.num_envs, len(rows)):
                raise ValueError(
                    f"options['exo_seed'] has {exo_seeds.shape[0]} entries; expected num_envs = {self.num_envs}"
                    f" or one per masked sub-environment ({len(rows)})"
                )
            if exo_seeds.shape[0] == self.num_envs:
                exo_seeds = exo_seeds[rows]
        for cohort in self._cohorts:
            cohort.live &= ~mask[cohort.rows]
        self._cohorts = [c for c in self._cohorts if c.live.any()]
        new = self._start(rows, exo_seeds)
        self._ended[rows] = False
        obs = self._initial_obs(new)
        info = self._reset_info(rows)
        if len(rows) == self.num_envs:
            return obs, info
        out = {key: np.zeros((self.num_envs, *v.shape[1:]), dtype=v.dtype) for key, v in obs.items()}
        for key, value in obs.items():
            out[key][rows] = value
        return out, info

    def _reset_mask(self, mask: Any) -> NDArray[np.bool_]:
        if mask is None:
            return np.ones(self.num_envs, dtype=bool)
        if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != (self.num_envs,):
            raise ValueError(
                f"options['reset_mask'] must be a numpy bool array of shape ({self.num_envs},), got {mask!r}"
            )
        if not mask.any():
            raise ValueError("options['reset_mask'] selects no sub-environment; set at least one entry True")
        return mask

    def _start(self, rows: NDArray[np.int64], exo_seeds: NDArray[np.int64] | None = None) -> _Cohort:
        """A new cohort for sub-environments ``rows``, each drawing its exogenous seed (unless given)."""
        if exo_seeds is None:
            exo_seeds = np.array([int(self._generators[i].integers(2**62)) for i in rows], dtype=np.int64)
        self.exo_seeds[rows] = exo_seeds
        cohort = _Cohort(rows=rows, sim=ShardedSimulation(self.scenario, exo_seeds), live=np.ones(len(rows), bool))
        cohort.full = len(rows) == self.num_envs
        self._cohorts.append(cohort)
        return cohort

    def _initial_obs(self, cohort: _Cohort) -> dict[str, F32]:
        return self.observer.observe(0, cohort.sim.csw, cohort.sim.egw, None, None)

    def _reset_info(self, rows: NDArray[np.int64]) -> dict[str, Any]:
        n = self.num_envs
        info = {"t": np.zeros(n, dtype=np.int64), "exo_seed": np.zeros(n, dtype=np.int64)}
        info["exo_seed"][rows] = self.exo_seeds[rows]
        return _with_masks(info, rows, n)

    # ------------------------------------------------------------------------------------ step
    def step(
        self, actions: NDArray[Any]
    ) -> tuple[dict[str, Any], NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_], dict[str, Any]]:
        if not self._cohorts:
            raise RuntimeError("call reset() before step()")
        p, b = self.layout.shares(actions, self.action_mode, "actions", batch=self.num_envs)
        n = self.num_envs
        restart = np.flatnonzero(self._ended)  # ended on the last step (NEXT_STEP, DISABLED)
        if len(restart) and self.autoreset_mode is AutoresetMode.DISABLED:
            raise ValueError(
                f"sub-environments {restart.tolist()} ended; with autoreset_mode DISABLED reset them with "
                "reset(options={'reset_mask': mask}) before stepping"
            )
        self._cohorts = stepping = [c for c in self._cohorts if not c.sim.done]
        results = [self._step_cohort(c, p, b) for c in stepping]
        if len(results) == 1 and stepping[0].full:
            obs, rewards, info = results[0]
        else:
            obs, rewards, info = self._scatter(stepping, results)
        truncations = np.zeros(n, dtype=bool)
        for c in stepping:
            if c.sim.done:
                truncations[c.rows[c.live]] = True
        if len(restart):  # NEXT_STEP: this step starts their next episode; their actions are ignored
            self._ended[restart] = False
            for key, value in self._initial_obs(self._start(restart)).items():
                obs[key][restart] = value
            info = _merge(info, self._reset_info(restart))
        ended = np.flatnonzero(truncations)
        if len(ended) and self.autoreset_mode is AutoresetMode.SAME_STEP:
            info = self._same_step_reset(obs, info, ended)
        elif len(ended):
            self._ended[ended] = True
        return obs, rewards, np.zeros(n, dtype=bool), truncations, info

    def _step_cohort(
        self, cohort: _Cohort, p: NDArray[np.float32], b: NDArray[np.float32]
    ) -> tuple[dict[str, F32], NDArray[np.float64], dict[str, Any]]:
        """Step one cohort; its observations, rewards and info in the cohort's row order."""
        if not cohort.full:
            p, b = p[cohort.rows], b[cohort.rows]

        def shard_step(part: Simulation, rows: slice) -> tuple[Transition, StepKPIs, dict[str, F32]]:
            # Each shard also builds its KPIs and observations on its worker thread.
            tr = part.step_projected(p[rows], b[rows])
            res = tr.result
            kpis = step_kpis(self.scenario, res.offered, res.lost, res.urllc_delay, res.cost)
            return tr, kpis, self.observer.observe(part.t, tr.csw, tr.egw, tr.drivers, res)

        sim = cohort.sim
        parts = sim.map_rows(shard_step)
        cohort.last = parts[0][0]
        kpis = concat([k for _, k, _ in parts])
        obs = (
            parts[0][2]
            if len(parts) == 1
            else {key: np.concatenate([o[key] for _, _, o in parts]) for key in parts[0][2]}
        )
        m = len(cohort.rows)
        rewards = np.asarray(self.reward_fn(kpis), dtype=np.float64).reshape(m)
        info: dict[str, Any] = {
            "t": np.full(m, sim.t, dtype=np.int64),
            "cost": kpis.cost.astype(np.float64),
            "scm": kpis.scm.astype(np.float64),
            "d99_ms": kpis.d99_ms.astype(np.float64),
            "violation": kpis.global_violation.copy(),
        }
        for s, name in enumerate(SLICES):
            info[f"loss_{name}"] = kpis.loss[:, s].astype(np.float64)
        if sim.done:
            info["episode_kpis"] = dict(sim.kpis().columns())
        if cohort.full:
            _with_masks(info, slice(None), m)
            if "episode_kpis" in info:
                _with_masks(info["episode_kpis"], slice(None), m)
        return obs, rewards, info

    def _scatter(
        self, cohorts: list[_Cohort], results: list[tuple[dict[str, F32], NDArray[np.float64], dict[str, Any]]]
    ) -> tuple[dict[str, F32], NDArray[np.float64], dict[str, Any]]:
        """Each cohort's live rows into ``num_envs``-row arrays, with Gymnasium's ``_key`` masks."""
        n = self.num_envs
        obs = {k: np.zeros((n, size), dtype=np.float32) for k, size in self.layout.sizes.items()}
        rewards = np.zeros(n, dtype=np.float64)
        info: dict[str, Any] = {}
        for cohort, (c_obs, c_rewards, c_info) in zip(cohorts, results, strict=True):
            rows, live = cohort.rows[cohort.live], cohort.live
            for key, value in c_obs.items():
                obs[key][rows] = value[live]
            rewards[rows] = c_rewards[live]
            _place(info, c_info, rows, live, n)
        return obs, rewards, info

    def _same_step_reset(self, obs: dict[str, F32], info: dict[str, Any], ended: NDArray[np.int64]) -> dict[str, Any]:
        """SAME_STEP: restart ``ended`` now; their last observation and info move to ``final_*``."""
        n = self.num_envs
        final_obs = np.empty(n, dtype=object)
        for i in ended:
            final_obs[i] = {key: value[i].copy() for key, value in obs.items()}
        final_info = {key: value.copy() if isinstance(value, np.ndarray) else value for key, value in info.items()}
        for key in [k for k in info if k.startswith("_")]:
            info[key] = info[key].copy()
            info[key][ended] = False  # the ended rows' step info is in final_info
        self._cohorts = [c for c in self._cohorts if not c.sim.done]
        for key, value in self._initial_obs(self._start(ended)).items():
            obs[key][ended] = value
        info = _merge(info, _with_masks({"final_obs": final_obs, "final_info": final_info}, ended, n))
        return _merge(info, self._reset_info(ended))

    # ---------------------------------------------------------------------------------- render
    def _shown(self) -> tuple[Simulation, Transition | None] | None:
        """Sub-environment 0's simulation shard and its last step."""
        for cohort in self._cohorts:
            if cohort.rows[0] == 0 and cohort.live[0]:
                return cohort.sim.parts[0], cohort.last
        return None

    def render(self) -> Any:
        if self.render_mode is None:
            from gymnasium import logger

            logger.warn("render() called without a render_mode; pass render_mode='rgb_array', 'ansi' or 'human'")
            return None
        shown = self._shown()
        if shown is None:
            return None
        from twm_gym import render

        sim, last = shown
        kpis = None
        if last is not None:
            res = last.result
            kpis = step_kpis(self.scenario, res.offered[:1], res.lost[:1], res.urllc_delay[:1], res.cost[:1])
        return render.render_episode(self.render_mode, sim, None if last is None else last.drivers, kpis, self._window)

    def close_extras(self, **kwargs: Any) -> None:
        self._window.close()


def _with_masks(info: dict[str, Any], rows: NDArray[np.int64] | slice, n: int) -> dict[str, Any]:
    """Add Gymnasium's ``_key`` masks: True at ``rows`` for every key (nested dicts get their own)."""
    for key in [k for k in info if not k.startswith("_")]:
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
        info[f"_{key}"] = mask
    return info


def _place(out: dict[str, Any], part: dict[str, Any], rows: NDArray[np.int64], live: NDArray[np.bool_], n: int) -> None:
    """Write a cohort's info arrays (cohort row order) at ``rows`` of ``out``, masks included."""
    for key, value in part.items():
        if key.startswith("_"):
            continue
        if isinstance(value, dict):
            _place(out.setdefault(key, {}), value, rows, live, n)
        else:
            if key not in out:
                out[key] = np.zeros((n, *value.shape[1:]), dtype=value.dtype)
            out[key][rows] = value[live]
        mask = out.setdefault(f"_{key}", np.zeros(n, dtype=bool))
        mask[rows] = True


def _merge(info: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``info`` with ``extra``'s entries written where ``extra``'s ``_key`` masks are set."""
    for key, value in extra.items():
        if key.startswith("_"):
            continue
        mask = extra[f"_{key}"]
        old = info.get(key)
        if isinstance(old, np.ndarray) and isinstance(value, np.ndarray) and old.shape == value.shape:
            merged = old.astype(np.result_type(old, value)) if old.dtype != value.dtype else old.copy()
            merged[mask] = value[mask]
            info[key], info[f"_{key}"] = merged, info[f"_{key}"] | mask
        else:
            info[key], info[f"_{key}"] = value, mask.copy()
    return info
