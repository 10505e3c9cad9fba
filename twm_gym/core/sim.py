"""The one dynamics engine: a batch of episodes advanced one slow step at a time.

Every face of the project (the Gymnasium env, the vector env, the PettingZoo env and the batched
twin) steps a :class:`Simulation`; none copies the physics. A step is the paper's factorized
transition (eq. 1): the exogenous world advances with no action (``core/egw.py``), then the
controllable world runs its fast sub-steps under the action (``core/csw.py``). As the exogenous
world never reads the action, the first step draws it for the rest of the horizon in one pass
(:func:`twm_gym.core.egw.roll`); later steps read their slice of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twm_gym.core.compiled import Compiled, compile_scenario
from twm_gym.core.csw import StepResult, csw_step, initial_csw, project_shares, record_step
from twm_gym.core.egw import ExoPath, initial_egw, roll
from twm_gym.core.kpi import KPIs, episode_kpis, step_cost
from twm_gym.core.params import Scenario
from twm_gym.core.rng import seed_keys
from twm_gym.core.state import CSWState, Drivers, EGWState, Ledger, Snapshot


@dataclass(frozen=True)
class Transition:
    """One slow step of a batch: the exogenous drivers seen and what the CSW did with them."""

    t: int  # index of the step just taken
    drivers: Drivers
    result: StepResult
    egw: EGWState  # exogenous state after the step
    csw: CSWState  # controllable state after the step


def empty_ledger(scenario: Scenario, batch: int) -> Ledger:
    sim = scenario.sim
    n_samples = sim.horizon * sim.substeps * len(scenario.city.cell_xy)
    return Ledger(
        offered=np.zeros((batch, 3), dtype=np.float32),
        lost=np.zeros((batch, 3), dtype=np.float32),
        unroutable=np.zeros((batch, 3), dtype=np.float32),
        cost_sum=np.zeros(batch, dtype=np.float32),
        delays=np.zeros((batch, n_samples), dtype=np.float32),
    )


class Simulation:
    """``B`` episodes of one scenario, each driven by its own exogenous seed.

    Args:
        scenario: the parameters (the *nominal* scenario for a planner's twin, the true one for an
            evaluation episode).
        seeds: ``(B,)`` non-negative integer seeds of the exogenous draws.
        start: resume from this snapshot instead of the scenario start; a batch-1 snapshot is
            shared by all rows.
        exo: the exogenous path of these seeds from the scenario start, already rolled
            (``core/egw.py:roll``, e.g. one row of a batch rolled ahead); drawn here otherwise.
    """

    def __init__(
        self, scenario: Scenario, seeds: ArrayLike, start: Snapshot | None = None, exo: ExoPath | None = None
    ) -> None:
        self.scenario = scenario
        self.comp: Compiled = compile_scenario(scenario)
        seeds_arr = np.asarray(seeds)
        keys = seed_keys(seeds_arr)
        batch = int(keys.shape[0])
        if start is not None and start.batch not in (1, batch):
            raise ValueError(f"start snapshot has batch {start.batch}; expected 1 or {batch}")
        if start is not None and not 0 <= start.t <= scenario.horizon:
            raise ValueError(f"start snapshot is at step {start.t}; valid steps are 0..{scenario.horizon}")
        # Exogenous draws depend on (state, seed) only: with a shared start, compute them once per
        # distinct seed and gather (common random numbers make this exact, not an approximation).
        self._keys, self._inverse = keys, None
        if start is None or start.batch == 1:
            unique, inverse = np.unique(keys, return_inverse=True)
            if len(unique) < batch:
                self._keys, self._inverse = unique, inverse
        n_exo = int(self._keys.shape[0])
        if start is None:
            self.t = 0
            self.egw = initial_egw(self.comp, n_exo)
            self.csw = initial_csw(self.comp, batch)
            self.ledger = empty_ledger(scenario, batch)
        else:
            self.t = start.t
            egw = start.egw.with_events(len(self.comp.shocks))  # a live episode's, in this model's events
            self.egw = egw.repeat(n_exo) if start.batch == 1 else egw.copy()
            self.csw = start.csw.repeat(batch) if start.batch == 1 else start.csw.copy()
            self.ledger = start.ledger.repeat(batch) if start.batch == 1 else start.ledger.copy()
        self.batch = batch
        self._path: ExoPath | None = None
        if exo is not None:
            if start is not None or self._inverse is not None or exo.batch != batch or exo.t0 != 0:
                raise ValueError("exo must be the path of these (distinct) seeds from the scenario start")
            self._path = exo

    @property
    def done(self) -> bool:
        return self.t >= self.scenario.horizon

    def step(self, p: ArrayLike, b: ArrayLike) -> Transition:
        """Advance every episode one slow step with PRB shares ``p (B,C,S)`` and link shares ``b (B,L,S)``.

        Raises:
            ValueError: bad shares (see ``core/csw.py:project_shares``) or stepping past the horizon.
        """
        if self.done:
            raise ValueError(f"episode is over: all {self.scenario.horizon} slow steps were taken")
        c, n_links = self.comp.n_cells, self.comp.n_links
        pp = project_shares(p, "p", (self.batch, c, 3), ("rollout", "cell", "slice"))
        bb = project_shares(b, "b", (self.batch, n_links, 3), ("rollout", "link", "slice"))
        return self._step(pp, bb)

    def step_projected(self, p: NDArray[np.float32], b: NDArray[np.float32]) -> Transition:
        """:meth:`step` for shares already projected by ``core/csw.py:project_shares`` (no checks).

        ``p (B, C, S)`` and ``b (B, L, S)`` must be float32, finite, non-negative, with slice sums
        at most 1 per cell (link): the environments validate and project their actions once and
        step through here.
        """
        if self.done:
            raise ValueError(f"episode is over: all {self.scenario.horizon} slow steps were taken")
        return self._step(p, b)

    def _step(self, p: NDArray[np.float32], b: NDArray[np.float32]) -> Transition:
        t = self.t
        cost = step_cost(self.scenario.cost, p, b, self.csw.last_p, self.csw.last_b)
        if self._path is None:
            self._path = roll(self.comp, self.egw, self._keys, t, self.scenario.horizon)
        drivers = self._path.at(t)
        self.egw = self._path.state(t)
        if self._inverse is not None:
            drivers = drivers.take(self._inverse)
        self.csw, result = csw_step(self.comp, self.csw, drivers, p, b, cost)
        record_step(self.ledger, result, t)
        self.t = t + 1
        egw = self.egw if self._inverse is None else self.egw.take(self._inverse)
        return Transition(t=t, drivers=drivers, result=result, egw=egw, csw=self.csw)

    def kpis(self) -> KPIs:
        """Episode KPIs from the steps taken so far (the full-episode KPIs once :attr:`done`)."""
        return episode_kpis(self.scenario, self.ledger, self.t)

    def snapshot(self, index: int | None = None) -> Snapshot:
        """A copy of the state of row ``index`` (batch 1), or of all rows."""
        egw = self.egw if self._inverse is None else self.egw.take(self._inverse)
        rows: NDArray[np.int64] | slice = slice(None) if index is None else np.array([index])
        return Snapshot(t=self.t, egw=egw.take(rows), csw=self.csw.take(rows), ledger=self.ledger.take(rows))
