"""The Gymnasium face of the twin: one network-slicing episode, one RIC decision per slow step."""

from __future__ import annotations

from collections import deque
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from twm_gym.core.egw import ExoPath, initial_egw, roll
from twm_gym.core.kpi import StepKPIs, step_kpis
from twm_gym.core.params import SLICES, Scenario
from twm_gym.core.rng import seed_keys
from twm_gym.core.sim import Simulation, Transition
from twm_gym.envs.layout import OBSERVATION_KEYS, Layout, Observer, check_action_mode, exo_seed_option, layout_for
from twm_gym.envs.reward import Reward, RewardFn
from twm_gym.render import RENDER_MODES, HumanWindow, check_render_mode
from twm_gym.scenarios import load_scenario

F32 = NDArray[np.float32]

_LOSS_KEYS = tuple(f"loss_{name}" for name in SLICES)

LOOKAHEAD = 8
"""Episodes whose exogenous worlds are rolled together, ahead of their resets."""


class SlicingEnv(gym.Env[dict[str, Any], NDArray[Any]]):
    """Network slicing in a 10-cell city: set every cell's PRB shares and every link's bandwidth
    shares for three slices, twelve times an episode.

    ## Description

    The paper's proof-of-concept network (section X): 10 cells on a 2 km x 2 km area serving
    eMBB, URLLC and FWA slices, a hub-and-spoke transport network with ring backups, and an
    exogenous world of demand, hotspots near the hospital, commuter waves along the corridor and
    link failures. Each slow step (60 s) the agent sets the shares; the twin then runs 15 fast
    queueing sub-steps (4 s). The state is split into the controllable system world (queues,
    shares, routes: ``csw_*`` observations) and the exogenous world (demand, field, failures,
    shocks: ``egw_*``), which evolves independently of the action (paper eq. 1). The physics is
    ``twm_gym.core``; ``docs/explanation/twin.md`` has every formula and default.

    ## Action space

    ``Box(-1, 1, (C*S + L*S,), float32)``, 60 entries for the default city (C = 10 cells, L = 10
    links, S = 3 slices in the order eMBB, URLLC, FWA), one per share:

    | index | share it sets | unit of the share |
    |---|---|---|
    | ``3*c + s`` for ``c < C`` | PRB share of slice ``s`` in cell ``c`` | fraction of the cell's PRBs |
    | ``3*C + 3*l + s`` | bandwidth share of slice ``s`` on link ``l`` | fraction of the link's capacity |

    By default (``action_mode="relative"``, ours) entry ``a`` asks for the share ``2**a / 3``: the
    uniform third times a factor from 1/2 (``a = -1``) to 2 (``a = 1``), one octave each way. The
    zero action is the uniform allocation, and no slice is ever starved, so a Gaussian policy
    centred on 0 (Stable-Baselines3's, CleanRL's) explores around a sound allocation. Entries
    outside [-1, 1] are clipped. ``action_mode="shares"`` acts with the shares themselves,
    ``Box(0, 1)`` (any allocation, 0 included; entries above 1 are accepted).

    Either way, a cell's (link's) shares summing above 1 are scaled down proportionally to sum to
    1; unallocated capacity is not provisioned (cheaper); slices never borrow each other's share.
    ``env.unwrapped.layout.pack(p, b)`` / ``unpack(action)`` convert shares from / to ``p (C, S)``
    and ``b (L, S)``. NaN, inf, a wrong shape, a non-numeric dtype (and, for shares, a negative
    entry) raise ``ValueError`` naming the entry.

    ## Observation space

    A flat ``Dict`` of 1-D float32 ``Box``es (``twm_gym.envs.layout.OBSERVATION_KEYS``):

    | key | size | bounds | meaning |
    |---|---|---|---|
    | ``csw_prb_share`` | C*S | [0, 1] | PRB shares applied at the last step (1/3 at reset) |
    | ``csw_bw_share`` | L*S | [0, 1] | bandwidth shares applied at the last step |
    | ``csw_radio_backlog`` | C*S | [0, 1] | radio backlog / radio buffer (40, 1, 40 Mbit) |
    | ``csw_link_backlog`` | L*S | [0, 1] | link backlog / link buffer (60, 1, 60 Mbit) |
    | ``csw_radio_util`` | C*S | [0, 1] | served / allocated radio capacity, last step |
    | ``csw_link_util`` | L*S | [0, 1] | sent / allocated link capacity, last step |
    | ``csw_route_hops`` | C | [0, 1] | links on the cell's path to the hub / L (0: no path) |
    | ``csw_reachable`` | C | {0, 1} | the cell's node has a path to the hub |
    | ``csw_slice_loss`` | S | [0, 1] | loss rate per slice, last step |
    | ``csw_urllc_latency`` | C | [0, 1] | worst URLLC latency sample of the last step / 1000 ms |
    | ``egw_demand`` | C*S | [0, 10] | mean offered load / cell nominal capacity (clipped) |
    | ``egw_capacity`` | C | [0, 1] | cell capacity / (100 MHz x 5.5 bit/s/Hz) |
    | ``egw_sinr_db`` | C | [-20, 30] | effective SINR, dB (clipped) |
    | ``egw_activity`` | C | [0, 1] | interference activity factor |
    | ``egw_link_up`` | L | {0, 1} | link is up |
    | ``egw_link_avail`` | L | [0, 1] | link capacity left after failures and cross traffic |
    | ``egw_hotspot`` | 4 | [0, 1] | active, steps left / duration, centre x, y / city size |
    | ``egw_wave`` | 4 | [0, 1] | active, steps left / duration, front x, y / city size |
    | ``egw_time`` | 1 | [0, 1] | slow steps taken / horizon |

    Exogenous keys describe the last drawn step: what is observable before acting.

    ## Rewards

    Per step, by default ``r_t = SCM_t - 0.5 cost_t - 1[step t violates an SLA] (1 + min(1, e_t))``
    (:class:`Reward`): the per-step form of the benchmark's utility
    ``U = SCM + 0.5 dcost - 1[viol] (1 + min(1, e))`` (ours; the paper defines none), where ``e_t``
    is how far past its ceiling the step's worst KPI is (0.5: 1.5 times the ceiling).
    ``SCM_t`` is the step's SLA Compliance Margin (paper eq. 2), ``cost_t`` its control cost
    (uniform 1/3 costs 1), and the penalty applies when the step's own loss rates pass the
    ceilings (eMBB 25 %, URLLC 10 %, FWA 20 %) or its URLLC 99th-percentile latency passes 20 ms.
    Pass ``reward=Reward(...)`` to reweigh, or any callable mapping
    ``twm_gym.core.kpi.StepKPIs`` to ``(1,)`` rewards.

    ## Starting state

    Empty queues, uniform 1/3 shares as the previous action, every link up, no shock, demand at
    its step-0 mean. The episode's exogenous seed is drawn from ``np_random`` (seeded by
    ``reset(seed=...)``), or given as ``reset(options={"exo_seed": s})``; the same seed gives the
    same exogenous world whatever the actions (common random numbers).

    ## Episode end

    Never terminated; truncated after the scenario's horizon (12 slow steps). ``info`` carries the
    step's KPIs (``cost``, ``scm``, ``d99_ms``, ``loss_<slice>``, ``violation``) and, on the last
    step, ``episode_kpis``: the episode's SCM, Δcost, cost, d99, loss and violation per slice.

    ## Arguments

    * ``scenario``: a registered scenario name (``twm_gym.scenarios.list_scenarios()``), a JSON
      path, or a :class:`~twm_gym.core.params.Scenario`; default ``"hotspot-id"``.
    * ``reward``: a :class:`Reward` or a callable on ``StepKPIs``.
    * ``action_mode``: ``"relative"`` (default) or ``"shares"`` (see Action space).
    * ``render_mode``: ``None`` (default), ``"rgb_array"`` (a city map: SINR field, zones, cells
      coloured by load, transport links with failed ones dashed red), ``"ansi"`` (a KPI table) or
      ``"human"`` (the map in a matplotlib window; without a display, the KPI table on stdout).

    ## Version history

    * v0: initial version. The default action form is ``"relative"``; ``action_mode="shares"``
      is the raw-share form.
    """

    metadata = {"render_modes": RENDER_MODES, "render_fps": 2}  # noqa: RUF012 - an instance attribute in the base class

    def __init__(
        self,
        scenario: str | Scenario = "hotspot-id",
        reward: Reward | RewardFn | None = None,
        render_mode: str | None = None,
        action_mode: str = "relative",
    ) -> None:
        self.scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
        self.action_mode = check_action_mode(action_mode)
        self.render_mode = check_render_mode(render_mode)
        self._window = HumanWindow(f"TWM/Slicing {self.scenario.name}")
        self.reward_fn: Reward | RewardFn = reward if reward is not None else Reward()
        self.layout: Layout = layout_for(self.scenario)
        self.observer = Observer(self.layout)
        self.action_space = self.layout.action_space(action_mode)
        self.observation_space = self.layout.observation_space()
        self._sim: Simulation | None = None
        # (exo seed, rolled path, exogenous observation keys per step) of the coming episodes
        self._ahead: deque[tuple[int, ExoPath, list[dict[str, F32]]]] = deque()
        self._exo_obs: list[dict[str, F32]] | None = None
        self._last: Transition | None = None
        self._last_kpis: StepKPIs | None = None
        self.exo_seed: int | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:
            self._ahead.clear()  # drawn from the old generator
        exo = exo_seed_option(options)
        if exo is not None:
            self.exo_seed, path, self._exo_obs = int(exo), None, None
        else:
            if not self._ahead:
                self._roll_ahead()
            self.exo_seed, path, self._exo_obs = self._ahead.popleft()
        self._sim = Simulation(self.scenario, [self.exo_seed], exo=path)
        self._last = self._last_kpis = None
        obs = self._observe()
        return obs, {"t": 0, "exo_seed": self.exo_seed}

    def _roll_ahead(self) -> None:
        """Draw the next ``LOOKAHEAD`` episodes' exogenous seeds and roll their worlds in one batch.

        The exogenous world never reads the action, so the coming episodes' can be drawn now: one
        batched roll costs about as much as a single one. Seeds come from ``np_random`` one at a
        time, in episode order, exactly as if each reset drew its own.
        """
        seeds = [int(self.np_random.integers(2**62)) for _ in range(LOOKAHEAD)]
        comp = self.layout.comp
        path = roll(comp, initial_egw(comp, len(seeds)), seed_keys(np.array(seeds)), 0, self.scenario.horizon)
        # The exogenous part of every coming observation, for all episodes at once (step t: after t - 1).
        exo_obs = [self.observer.observe_exo(0, initial_egw(comp, len(seeds)), None)]
        exo_obs += [self.observer.observe_exo(t + 1, path.state(t), path.at(t)) for t in range(self.scenario.horizon)]
        for i, s in enumerate(seeds):
            self._ahead.append((s, path.row(i), [{k: v[i] for k, v in step.items()} for step in exo_obs]))

    def step(self, action: NDArray[Any]) -> tuple[dict[str, Any], SupportsFloat, bool, bool, dict[str, Any]]:
        if self._sim is None:
            raise RuntimeError("call reset() before step()")
        p, b = self.layout.shares(action, self.action_mode)
        p, b = p[None], b[None]
        sim = self._sim
        tr = sim.step_projected(p, b)
        res = tr.result
        kpis = step_kpis(self.scenario, res.offered, res.lost, res.urllc_delay, res.cost)
        self._last, self._last_kpis = tr, kpis
        reward = float(np.asarray(self.reward_fn(kpis)).flat[0])
        truncated = sim.done
        info: dict[str, Any] = {
            "t": sim.t,
            "cost": float(kpis.cost[0]),
            "scm": float(kpis.scm[0]),
            "d99_ms": float(kpis.d99_ms[0]),
            "violation": bool(kpis.global_violation[0]),
        }
        info.update(zip(_LOSS_KEYS, kpis.loss[0].tolist(), strict=True))
        if truncated:
            info["episode_kpis"] = sim.kpis().row(0)
        return self._observe(), reward, False, truncated, info

    def _observe(self) -> dict[str, F32]:
        if self._sim is None:
            raise RuntimeError("call reset() first")
        sim, tr = self._sim, self._last
        if self._exo_obs is None:
            obs = self.observer.observe(
                sim.t, sim.csw, sim.egw, None if tr is None else tr.drivers, None if tr is None else tr.result
            )
            return {key: value[0] for key, value in obs.items()}
        part = self.observer.observe_csw(sim.csw, None if tr is None else tr.result)
        exo = self._exo_obs[sim.t]
        # exo holds views into this episode's cache, each returned once: no copy needed.
        return {key: part[key][0] if key in part else exo[key] for key in OBSERVATION_KEYS}

    @property
    def simulation(self) -> Simulation:
        """The running episode's core simulation (for snapshots: ``env.unwrapped.simulation.snapshot(0)``)."""
        if self._sim is None:
            raise RuntimeError("call reset() first")
        return self._sim

    def render(self) -> Any:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array', 'ansi' or 'human'")
            return None
        from twm_gym import render

        drivers = None if self._last is None else self._last.drivers
        return render.render_episode(self.render_mode, self.simulation, drivers, self._last_kpis, self._window)

    def close(self) -> None:
        self._window.close()
