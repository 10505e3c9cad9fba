"""A batch of episodes split into row shards stepped on parallel threads.

Rows never interact (counter-based draws, per-row state), so a sharded batch is exact: the same
bits as one :class:`~twm_gym.core.sim.Simulation` of the whole batch. numpy releases the GIL in
its array loops, so two shards keep two cores busy when each has a few hundred rows.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike

from twm_gym.core.blas import single_threaded_blas
from twm_gym.core.kpi import KPIs
from twm_gym.core.params import Scenario
from twm_gym.core.sim import Simulation

SHARD_ROWS = 512
"""A batch is split into shards only when each gets at least this many rows."""

R = TypeVar("R")
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def pool() -> ThreadPoolExecutor:
    """The process-wide worker threads of the twin (one per core)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="twm-twin")
    return _POOL


def n_shards(batch: int) -> int:
    """How many shards a batch of ``batch`` rows is split into (1: not split)."""
    return max(1, min(os.cpu_count() or 1, batch // SHARD_ROWS, 8))


def concat(parts: list[R]) -> R:
    """Concatenate batched dataclass records (arrays on axis 0; other fields from the first part)."""
    first = parts[0]
    if len(parts) == 1:
        return first
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(first):  # type: ignore[arg-type]
        values = [getattr(p, f.name) for p in parts]
        if isinstance(values[0], np.ndarray):
            fields[f.name] = np.concatenate(values)
        elif dataclasses.is_dataclass(values[0]):
            fields[f.name] = concat(values)
        else:
            fields[f.name] = values[0]
    return type(first)(**fields)


class ShardedSimulation:
    """A batch of :class:`Simulation` row shards (``n_shards(B)`` of them) stepped on parallel threads.

    :meth:`map_rows` runs a function (a step and whatever follows it) on every shard at once;
    ``kpis``, ``csw``, ``egw`` and ``t`` read as for one simulation of the whole batch.
    """

    def __init__(self, scenario: Scenario, seeds: ArrayLike, shards: int | None = None) -> None:
        seeds_arr = np.asarray(seeds)
        batch = int(seeds_arr.shape[0])
        k = n_shards(batch) if shards is None else max(1, min(shards, batch))
        self.bounds = [(int(i), int(j)) for i, j in itertools.pairwise(np.linspace(0, batch, k + 1).astype(int))]
        self.parts = [Simulation(scenario, seeds_arr[i:j]) for i, j in self.bounds]
        self.scenario, self.batch = scenario, batch

    @property
    def t(self) -> int:
        return self.parts[0].t

    @property
    def done(self) -> bool:
        return self.parts[0].done

    def map_rows(self, fn: Callable[[Simulation, slice], R]) -> list[R]:
        """``fn(shard, rows)`` for every shard (``rows``: its slice of the batch), on the worker threads."""
        if len(self.parts) == 1:
            return [fn(self.parts[0], slice(0, self.batch))]
        with single_threaded_blas():
            jobs = [pool().submit(fn, sim, slice(i, j)) for sim, (i, j) in zip(self.parts, self.bounds, strict=True)]
            return [job.result() for job in jobs]

    def kpis(self) -> KPIs:
        return concat([sim.kpis() for sim in self.parts])

    @property
    def csw(self) -> Any:
        return concat([sim.csw for sim in self.parts])

    @property
    def egw(self) -> Any:
        return concat([sim.egw for sim in self.parts])

    @property
    def comp(self) -> Any:
        return self.parts[0].comp
