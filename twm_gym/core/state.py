"""State records of the two worlds, batched on a leading axis ``B``.

The factorization of the paper's eq. 1 is visible in the types: :class:`EGWState` (exogenous world)
evolves with no action, :class:`CSWState` (controllable system world) is what the action moves, and
:class:`Drivers` is the exogenous world's per-step input to the controllable one. :class:`Ledger`
accumulates the episode's KPI counters. A :class:`Snapshot` (all four at a step boundary) lets the
twin resume any running episode.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

F32 = NDArray[np.float32]
I32 = NDArray[np.int32]

T = TypeVar("T")


def _map_arrays(record: T, fn: Any) -> T:
    """A new record of the same type with ``fn`` applied to every field (all fields are arrays)."""
    return type(record)(**{name: fn(getattr(record, name)) for name in record.__dataclass_fields__})  # type: ignore[attr-defined]


class _Batched:
    """Helpers shared by the batched records."""

    def take(self: T, index: NDArray[np.integer] | slice) -> T:
        """Rows ``index`` of every array (a new record, arrays copied)."""
        return _map_arrays(self, lambda a: np.array(a[index]))

    def repeat(self: T, batch: int) -> T:
        """A batch-1 record repeated to ``batch`` rows."""
        return _map_arrays(self, lambda a: np.repeat(a[:1], batch, axis=0))

    def copy(self: T) -> T:
        return _map_arrays(self, np.array)


@dataclass(frozen=True)
class EGWState(_Batched):
    """Exogenous world between slow steps. Evolves with no action (paper eq. 1)."""

    ar: F32  # (B, C, S) slow log-deviation of demand (AR(1)), dimensionless
    down_left: I32  # (B, L) slow steps each link stays down (0: up)
    ev_left: I32  # (B, K) slow steps each surge event (Scenario.shocks) still lasts (0: not running)
    ev_intensity: F32  # (B, K) its surge multiplier at its centre (drawn when it starts)
    ev_offset: F32  # (B, K, 2) random offset of its centre from its place or path, m
    ev_dir: F32  # (B, K) +1 or -1: the way a travelling one goes along its path
    ev_pos: F32  # (B, K) where a travelling one is along its path, fraction of arc length in [0, 1]

    def with_events(self, k: int) -> EGWState:
        """This state for a scenario with ``k`` surge events (itself when it has ``k``).

        A live episode's state continued in another model of the same city (an OOD episode in its
        nominal twin) may list more or fewer events: the first ``min(k, K)`` carry their state over
        (the hotspot and the wave are always the first two), events this state lacks start idle, and
        events past ``k`` are dropped: the other model does not know them.
        """
        have = self.ev_left.shape[1]
        if have == k:
            return self
        if have > k:
            cut = slice(0, k)
            return replace(
                self,
                ev_left=self.ev_left[:, cut].copy(),
                ev_intensity=self.ev_intensity[:, cut].copy(),
                ev_offset=self.ev_offset[:, cut].copy(),
                ev_dir=self.ev_dir[:, cut].copy(),
                ev_pos=self.ev_pos[:, cut].copy(),
            )
        batch, extra = self.ev_left.shape[0], k - have

        def pad(a: NDArray[Any], value: float, *tail: int) -> NDArray[Any]:
            return np.concatenate([a, np.full((batch, extra, *tail), value, a.dtype)], axis=1)

        return replace(
            self,
            ev_left=pad(self.ev_left, 0),
            ev_intensity=pad(self.ev_intensity, 0.0),
            ev_offset=pad(self.ev_offset, 0.0, 2),
            ev_dir=pad(self.ev_dir, 1.0),
            ev_pos=pad(self.ev_pos, 0.0),
        )


@dataclass(frozen=True)
class CSWState(_Batched):
    """Controllable system world between slow steps."""

    q_radio: F32  # (B, C, S) radio buffer backlog per cell and slice, Mbit
    q_link: F32  # (B, L, S) transport buffer backlog per link and slice, Mbit
    last_p: F32  # (B, C, S) PRB shares applied at the previous step (uniform 1/3 at reset)
    last_b: F32  # (B, L, S) bandwidth shares applied at the previous step


@dataclass(frozen=True)
class Ledger(_Batched):
    """Episode counters from which the KPIs are computed (see ``core/kpi.py``)."""

    offered: F32  # (B, S) offered traffic so far, Mbit
    lost: F32  # (B, S) lost traffic so far (buffer overflow, transport overflow, unroutable), Mbit
    unroutable: F32  # (B, S) of which lost for want of a transport path, Mbit
    cost_sum: F32  # (B,) sum of per-step control costs so far
    delays: F32  # (B, T*K*C) URLLC latency samples, ms; the first t*K*C are filled


@dataclass(frozen=True)
class Drivers(_Batched):
    """What the exogenous world hands the controllable one for one slow step."""

    demand: F32  # (B, C, S) mean offered load over the step, Mbps
    burst: F32  # (B, K, C, S) per-sub-step multiplicative burst of the offered load (mean 1)
    capacity: F32  # (B, C) cell capacity at full PRB share, Mbps
    sinr_db: F32  # (B, C) effective SINR (of the user-weighted mean SE), dB
    link_up: NDArray[np.bool_]  # (B, L) link is up
    link_avail: F32  # (B, L) capacity left to the slices after cross traffic (0 if down), Mbps
    cross: F32  # (B, L) fraction of link capacity taken by the shocks' cross traffic
    route: F32  # (B, C, L) 1 where the path from cell c's node to the hub uses link l
    reach: F32  # (B, C) 1 where cell c's node has a path to the hub
    degraded: NDArray[np.bool_]  # (B,) some link is down (routes differ from the intact ones)
    density: F32  # (B, X) user density per pixel (relative units)
    activity: F32  # (B, C) interference activity factor in [0, 1]

    def take(self, index: NDArray[np.integer] | slice) -> Drivers:
        """Rows ``index`` (copies); the burst keeps the sub-step-major layout the CSW reads."""
        burst = self.burst.transpose(1, 3, 0, 2)[:, :, index]  # (K, S, B', C), C-contiguous
        rows = {name: np.array(getattr(self, name)[index]) for name in self.__dataclass_fields__ if name != "burst"}
        return Drivers(burst=burst.transpose(2, 0, 3, 1), **rows)


@dataclass(frozen=True)
class Snapshot:
    """Everything needed to resume an episode at the start of slow step ``t``."""

    t: int
    egw: EGWState
    csw: CSWState
    ledger: Ledger

    @property
    def batch(self) -> int:
        return int(self.csw.q_radio.shape[0])
