"""The batched digital twin: many (policy, exogenous seed) rollouts in one vectorized call.

:func:`simulate` is the pure function; :class:`Twin` wraps it with a simulator-call meter. One
full-horizon (or remaining-horizon, from a snapshot) rollout of one (policy, seed) pair is **one
simulator call** (the paper's accounting, section X-B); a call that would pass the budget is
refused whole with :class:`BudgetExceededError`, before anything is simulated.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twm_gym.core.blas import single_threaded_blas
from twm_gym.core.csw import project_shares
from twm_gym.core.kpi import KPIs, Utility
from twm_gym.core.params import Scenario
from twm_gym.core.rng import domain_seeds
from twm_gym.core.sim import Simulation
from twm_gym.core.state import Snapshot

F32 = NDArray[np.float32]
R = TypeVar("R")

CHUNK_ROWS = 512
"""Batches of at least twice this many rows are split into chunks simulated on parallel threads."""
_POOL: ThreadPoolExecutor | None = None


class BudgetExceededError(RuntimeError):
    """A twin call would use more simulator calls than the budget has left."""


@dataclass(frozen=True)
class Trajectory:
    """Per-step records of a batch of rollouts; axis 1 runs over the simulated steps."""

    t0: int  # index of the first simulated step
    p: F32  # (B, H, C, S) applied (projected) PRB shares
    b: F32  # (B, H, L, S) applied bandwidth shares
    demand: F32  # (B, H, C, S) mean offered load, Mbps
    capacity: F32  # (B, H, C) cell capacity at full share, Mbps
    sinr_db: F32  # (B, H, C) effective SINR, dB
    link_up: NDArray[np.bool_]  # (B, H, L)
    link_avail: F32  # (B, H, L) link capacity left after cross traffic, Mbps
    offered: F32  # (B, H, S) Mbit
    lost: F32  # (B, H, S) Mbit
    unroutable: F32  # (B, H, S) Mbit
    q_radio: F32  # (B, H, C, S) radio backlog at the end of the step, Mbit
    q_link: F32  # (B, H, L, S) link backlog at the end of the step, Mbit
    radio_util: F32  # (B, H, C, S) in [0, 1]
    link_util: F32  # (B, H, L, S) in [0, 1]
    urllc_delay: F32  # (B, H, K, C) URLLC latency samples, ms
    cost: F32  # (B, H) per-step control cost


@dataclass(frozen=True)
class Rollout:
    """Result of a batch of rollouts: episode KPIs, utility and (on request) the trajectories."""

    kpis: KPIs
    utility: F32  # (B,)
    trajectory: Trajectory | None = None


def _policy(x: ArrayLike, name: str, batch: int, steps: int, width: int, axis: str) -> F32:
    arr = np.asarray(x)
    if arr.ndim == 3:  # one policy for every seed
        arr = np.broadcast_to(arr, (batch, *arr.shape))
    return project_shares(arr, name, (batch, steps, width, 3), ("rollout", "step", axis, "slice"))


MAX_LATENCY_SAMPLES = 2**28
"""The most URLLC latency samples (float32, ``horizon x substeps x cells`` per rollout) one twin call
keeps: 1 GiB. It bounds a call's batch (:func:`max_batch`) before anything is allocated."""


def max_batch(scenario: Scenario) -> int:
    """The most rollouts of ``scenario`` one twin call takes (:data:`MAX_LATENCY_SAMPLES`)."""
    per_rollout = scenario.horizon * scenario.sim.substeps * len(scenario.city.cell_xy)
    return max(1, MAX_LATENCY_SAMPLES // per_rollout)


def simulate(
    scenario: Scenario,
    p: ArrayLike,
    b: ArrayLike,
    seeds: ArrayLike,
    start: Snapshot | None = None,
    record: bool = False,
    utility: Utility | None = None,
) -> Rollout:
    """Roll out ``B`` (policy, seed) pairs to the end of the horizon in one vectorized pass.

    Args:
        scenario: parameters of the world simulated.
        p: PRB shares ``(B, H, C, S)`` (or ``(H, C, S)`` shared by all seeds), ``H`` = steps left.
        b: bandwidth shares ``(B, H, L, S)`` (or ``(H, L, S)``).
        seeds: ``(B,)`` exogenous seeds; the same seed gives the same exogenous draws whatever the
            policy and whatever else shares the batch.
        start: resume from this snapshot (its step, queues, shocks and KPI counters) instead of
            the scenario start.
        record: also return the per-step :class:`Trajectory`.
        utility: decision utility (default :class:`Utility`).

    Returns:
        Full-episode KPIs (a snapshot's past included) and utility per rollout.
    """
    seeds_arr = np.asarray(seeds)
    batch = int(seeds_arr.shape[0]) if seeds_arr.ndim == 1 else -1
    if batch < 1:
        raise ValueError(f"seeds must be a non-empty 1-D array, got shape {seeds_arr.shape}")
    limit = max_batch(scenario)
    if batch > limit:
        raise ValueError(
            f"seeds: {batch} rollouts in one call; at most {limit} of scenario {scenario.name!r} fit the twin's "
            f"memory bound (MAX_LATENCY_SAMPLES = {MAX_LATENCY_SAMPLES} URLLC latency samples per call): "
            "split the batch"
        )
    t0 = 0 if start is None else start.t
    steps = scenario.horizon - t0
    if steps < 1:
        raise ValueError(f"start snapshot is at step {t0}: no step of the {scenario.horizon}-step horizon is left")
    pp = _policy(p, "p", batch, steps, len(scenario.city.cell_xy), "cell")
    bb = _policy(b, "b", batch, steps, len(scenario.transport.links), "link")
    if start is not None and start.batch not in (1, batch):
        raise ValueError(f"start snapshot has batch {start.batch}; expected 1 or {batch}")
    n_chunks = min(os.cpu_count() or 1, batch // CHUNK_ROWS, 8)
    with single_threaded_blas():
        if n_chunks < 2:
            kpis, traj = _run(scenario, pp, bb, seeds_arr, start, record)
        else:
            # Rows never interact (counter-based draws, per-row state), so chunks are exact.
            global _POOL
            if _POOL is None:
                _POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="twm-twin")
            bounds = np.linspace(0, batch, n_chunks + 1).astype(int)
            jobs = [
                _POOL.submit(_run, scenario, pp[i:j], bb[i:j], seeds_arr[i:j], _rows(start, i, j, batch), record)
                for i, j in itertools.pairwise(bounds)
            ]
            parts = [job.result() for job in jobs]
            kpis = _concat([k for k, _ in parts])
            traj = _concat([t for _, t in parts]) if record else None  # type: ignore[misc]
    return Rollout(kpis=kpis, utility=(utility or Utility())(kpis), trajectory=traj)


def _rows(start: Snapshot | None, i: int, j: int, batch: int) -> Snapshot | None:
    if start is None or start.batch == 1:
        return start
    idx = np.arange(i, j)
    return Snapshot(t=start.t, egw=start.egw.take(idx), csw=start.csw.take(idx), ledger=start.ledger.take(idx))


def _concat(parts: list[R]) -> R:
    """Concatenate dataclass records of batch chunks along the batch axis."""
    first: Any = parts[0]
    out = {}
    for f in dataclasses.fields(first):
        value = getattr(first, f.name)
        out[f.name] = (
            np.concatenate([getattr(p, f.name) for p in parts], axis=0) if isinstance(value, np.ndarray) else value
        )
    return type(first)(**out)  # type: ignore[no-any-return]


def _run(
    scenario: Scenario, pp: F32, bb: F32, seeds: NDArray[np.integer], start: Snapshot | None, record: bool
) -> tuple[KPIs, Trajectory | None]:
    sim = Simulation(scenario, seeds, start)
    steps = pp.shape[1]
    trace: list[tuple[Any, ...]] = []
    for h in range(steps):
        tr = sim._step(pp[:, h], bb[:, h])  # shares were validated for the whole horizon
        if record:
            d, r = tr.drivers, tr.result
            trace.append(
                (
                    d.demand,
                    d.capacity,
                    d.sinr_db,
                    d.link_up,
                    d.link_avail,
                    r.offered,
                    r.lost,
                    r.unroutable,
                    tr.csw.q_radio,
                    tr.csw.q_link,
                    r.radio_util,
                    r.link_util,
                    r.urllc_delay,
                    r.cost,
                )
            )
    traj = None
    if record:
        cols = [np.stack(col, axis=1) for col in zip(*trace, strict=False)]
        traj = Trajectory(sim.t - steps, pp, bb, *cols)
    return sim.kpis(), traj


class Meter:
    """The read side of a simulator-call meter: ``budget``, ``calls_used`` and ``remaining`` have no
    setters (the meter is the harness's). :class:`Twin` and strict mode's twin client share it."""

    _budget: int | None = None
    _calls_used: int = 0

    @property
    def budget(self) -> int | None:
        """Simulator calls allowed in total, or ``None`` when unmetered."""
        return self._budget

    @property
    def calls_used(self) -> int:
        """Simulator calls charged so far."""
        return self._calls_used

    @property
    def remaining(self) -> int | None:
        """Calls left, or ``None`` when unmetered."""
        return None if self._budget is None else self._budget - self._calls_used


class Twin(Meter):
    """A metered twin: :func:`simulate` with a simulator-call budget.

    Args:
        scenario: the world the twin simulates (for agents: the scenario's *nominal* model).
        budget: simulator calls allowed in total; ``None`` for unlimited.
        utility: decision utility reported with every rollout.
        seed_domain: when set, every seed passed to :meth:`rollout` is first mapped through
            ``core/rng.py:domain_seeds`` with this domain: the twins handed to agents use one,
            so no seed an agent passes replays an evaluation episode's exogenous draws.
    """

    def __init__(
        self,
        scenario: Scenario,
        budget: int | None = None,
        utility: Utility | None = None,
        seed_domain: int | None = None,
    ) -> None:
        if budget is not None and budget < 0:
            raise ValueError(f"budget must be >= 0 or None, got {budget}")
        self.scenario = scenario
        self._budget = budget
        self.utility = utility or Utility()
        self.seed_domain = seed_domain
        self._calls_used = 0

    def rollout(
        self,
        p: ArrayLike,
        b: ArrayLike,
        seeds: ArrayLike,
        start: Snapshot | None = None,
        record: bool = False,
    ) -> Rollout:
        """:func:`simulate`, charging one call per (policy, seed) pair.

        Raises:
            BudgetExceededError: the call needs more calls than remain; nothing is simulated or charged.
        """
        n = int(np.asarray(seeds).size)
        left = self.remaining
        if left is not None and n > left:
            raise BudgetExceededError(
                f"twin call needs {n} simulator calls but only {left} of the budget of {self.budget} remain"
            )
        if self.seed_domain is not None:
            seeds = domain_seeds(np.asarray(seeds).reshape(-1), self.seed_domain)
        out = simulate(self.scenario, p, b, seeds, start=start, record=record, utility=self.utility)
        self._calls_used += n
        return out
