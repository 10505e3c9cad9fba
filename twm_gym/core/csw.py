"""The controllable system world (CSW): shares, radio and transport queues, routing, latency.

One slow step applies PRB shares ``p[c,s]`` and bandwidth shares ``b[l,s]`` for ``K`` fast sub-steps
of length ``dt = slow_step_s / K``. Per sub-step ``k``, vectorized over batch, cells, links, slices:

1. arrivals ``a = lambda[c,s] * burst[k,c,s] * dt`` join the radio queue ``q[c,s]`` (Mbit);
2. the scheduler serves ``min(q, p[c,s] * C[c] * dt)`` (strict slice isolation: unused PRBs are
   not lent to other slices, and unallocated PRBs are simply not provisioned);
3. backlog above the radio buffer is dropped (loss; computed by conservation, ``offered - served -
   change in backlog``);
4. served traffic aggregates per node; a node with no path to the hub loses it (*unroutable*);
   routed traffic joins the queue of every link on its path, which sends ``b[l,s] * A[l] * dt``
   (``A``: capacity after wave cross traffic) and drops what exceeds the link buffer. Links on a
   path are treated as parallel bottlenecks fed by the same flow: a bit dropped on the first hop
   still loads the second (a conservative fluid approximation; total loss is capped at offered);
5. URLLC latency of each cell is sampled: ``radio_latency + q_u / (p_u C) + sum over its path of
   (hop_latency + q_link_u / (b_u A))``, in ms, capped at ``latency_cap_ms`` (also the latency of
   unroutable traffic). A slice given no share has infinite drain time, hence the cap. The
   ``T * K * C`` samples of an episode give its 99th percentile.

A planner that only compares slow-step averages (``p C`` against ``lambda``) cannot see step 4-5's
sub-step bursts, which is the paper's point about the fast timescale.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twm_gym.core.compiled import Compiled
from twm_gym.core.params import SLICES, URLLC
from twm_gym.core.state import CSWState, Drivers, Ledger

F32 = NDArray[np.float32]


def project_shares(x: ArrayLike, name: str, shape: tuple[int, ...], axis_names: tuple[str, ...]) -> F32:
    """Validate shares and project them onto ``{x >= 0, sum over slices <= 1}``.

    Finite, non-negative values are accepted; where a row's slice sum exceeds 1 the row is scaled
    down proportionally to sum to exactly 1 (so a single share above 1 is scaled, not rejected).

    Args:
        x: shares with slices on the last axis.
        name: field name used in error messages (``"p"`` or ``"b"``).
        shape: the expected shape.
        axis_names: a name per axis for error positions, e.g. ``("step", "cell", "slice")``.

    Raises:
        ValueError: wrong shape, non-numeric, NaN, infinite or negative entries; the message names
            the field and the first bad position.
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}; expected {shape} ({', '.join(axis_names)})")
    arr = arr.astype(np.float32)
    # One reduction decides the common case: the minimum of an array with a NaN is NaN, and an
    # infinite entry makes the sum infinite (entries are float32, the sum is float64).
    if not (arr.min() >= 0 and np.isfinite(arr.sum(dtype=np.float64))):
        bad = ~np.isfinite(arr) | (arr < 0)
        pos = np.unravel_index(int(np.flatnonzero(bad)[0]), shape)
        value = arr[pos]
        where = ", ".join(
            f"{ax} {SLICES[int(i)] if ax == 'slice' else int(i)}" for ax, i in zip(axis_names, pos, strict=False)
        )
        kind = "negative" if np.isfinite(value) else str(value)
        raise ValueError(f"{name}[{where}] is {kind} ({value}); shares must be finite and >= 0")
    total = arr.sum(axis=-1, keepdims=True)
    over = total > 1.0
    if over.any():
        arr = np.where(over, arr / np.maximum(total, np.float32(1e-30)), arr).astype(np.float32)
    return arr


def initial_csw(comp: Compiled, batch: int) -> CSWState:
    """Empty queues and the uniform 1/3 allocation as the 'previous' action."""
    c, n_links = comp.n_cells, comp.n_links
    third = np.float32(1.0 / 3.0)
    return CSWState(
        q_radio=np.zeros((batch, c, 3), dtype=np.float32),
        q_link=np.zeros((batch, n_links, 3), dtype=np.float32),
        last_p=np.full((batch, c, 3), third, dtype=np.float32),
        last_b=np.full((batch, n_links, 3), third, dtype=np.float32),
    )


@dataclass(frozen=True)
class StepResult:
    """What one slow step of the CSW produced, per batch member."""

    offered: F32  # (B, S) offered traffic during the step, Mbit
    lost: F32  # (B, S) lost traffic during the step (all causes), Mbit
    unroutable: F32  # (B, S) of which without a transport path, Mbit
    radio_util: F32  # (B, C, S) served / allocated radio capacity over the step, in [0, 1]
    link_util: F32  # (B, L, S) sent / allocated link capacity over the step, in [0, 1]
    urllc_delay: F32  # (B, K, C) URLLC latency samples, ms
    cost: F32  # (B,) control cost of the step (``core/kpi.py:step_cost``)


_ZERO = np.zeros((), dtype=np.float32)  # a 0-d operand is cheaper than a Python scalar at batch 1


def _clip_ufunc() -> Any:
    """numpy's three-operand ``clip`` ufunc, the kernel ``np.clip`` ends in, without its wrapper.

    One ufunc call instead of ``maximum`` then ``minimum`` (same values) is the largest saving in
    the sub-step loop at batch 1. Falls back to ``np.clip`` if a numpy release moves it.
    """
    for name in ("numpy._core.umath", "numpy.core.umath"):
        try:
            ufunc = importlib.import_module(name).clip
        except (ImportError, AttributeError):
            continue
        if isinstance(ufunc, np.ufunc):
            return ufunc
    return np.clip


_CLIP = _clip_ufunc()


@functools.lru_cache(maxsize=64)
def _buffers(comp: Compiled, batch: int) -> tuple[F32, F32]:
    """Radio ``(S, B, C)`` and link ``(S, B, L)`` buffer sizes at full shape (Mbit), read-only.

    Same-shape operands make the sub-step loop's ufunc calls cheapest at small batch.
    """
    sim, tr = comp.scenario.sim, comp.scenario.transport
    buf_r = np.repeat(np.asarray(sim.radio_buffer_mbit, dtype=np.float32)[:, None, None], batch, axis=1)
    buf_l = np.repeat(np.asarray(tr.buffer_mbit, dtype=np.float32)[:, None, None], batch, axis=1)
    buf_r = np.ascontiguousarray(np.repeat(buf_r, comp.n_cells, axis=2))
    buf_l = np.ascontiguousarray(np.repeat(buf_l, comp.n_links, axis=2))
    buf_r.flags.writeable = False
    buf_l.flags.writeable = False
    return buf_r, buf_l


def _queue(q0: F32, arrivals: F32, service: F32, buffer: F32) -> tuple[F32, F32]:
    """Run a bank of fluid queues over ``K`` sub-steps: backlog history and what each sub-step served.

    ``q_k = clip(q_{k-1} + a_k - m, 0, M)`` and ``served_k = min(q_{k-1} + a_k, m)``, with arrivals
    ``a (K, ...)``, service ``m`` and buffer ``M`` per sub-step (Mbit). Returns ``q (K + 1, ...)``
    (``q[0] = q0``) and ``served (K, ...)``. Only the recursion loops, two ufuncs per sub-step.
    """
    k_sub = arrivals.shape[0]
    q = np.empty((k_sub + 1, *q0.shape), dtype=np.float32)
    q[0] = q0
    net = arrivals - service
    # Views made once: indexing inside the loop costs about as much as a small ufunc call.
    qs = list(q)
    add, clip = np.add, _CLIP
    for k, x in enumerate(net):
        add(qs[k], x, x)
        clip(x, _ZERO, buffer, out=qs[k + 1])
    served = q[:-1] + arrivals
    np.minimum(served, service, out=served)
    return q, served


def csw_step(comp: Compiled, state: CSWState, drv: Drivers, p: F32, b: F32, cost: F32) -> tuple[CSWState, StepResult]:
    """Run one slow step of ``K`` fast sub-steps with shares ``p (B,C,S)`` and ``b (B,L,S)``.

    ``p`` and ``b`` must already be projected (:func:`project_shares`); ``cost`` is the step's
    control cost, passed through to the result.

    Within a slow step a queue with arrivals ``a_k``, service ``m`` per sub-step and buffer ``M``
    follows ``q_k = clip(q_{k-1} + a_k - m, 0, M)`` and serves ``min(q_{k-1} + a_k, m)``. Only the
    recursion itself is sequential (two array operations per sub-step); arrivals, service,
    routing and latency are computed for all ``K`` sub-steps at once, and radio queues never
    depend on link queues, so the radio recursion runs to the end before the link one starts.
    """
    sim, tr = comp.scenario.sim, comp.scenario.transport
    k_sub = sim.substeps
    dt = np.float32(sim.slow_step_s / k_sub)
    cap_ms = np.float32(sim.latency_cap_ms)
    batch, n_cells = p.shape[0], p.shape[1]
    # Arrays are slice-major, (K, S, B, C) and (K, S, B, L): every slice is contiguous, and
    # aggregating cells into nodes and routing nodes onto links are single matrix products.
    radio_rate = np.ascontiguousarray((p * drv.capacity[:, :, None]).transpose(2, 0, 1))  # (S, B, C) Mbps
    radio_cap = radio_rate * dt  # Mbit per sub-step
    link_rate = np.ascontiguousarray((b * drv.link_avail[:, :, None]).transpose(2, 0, 1))  # (S, B, L)
    link_cap = link_rate * dt
    arrivals = np.empty((k_sub, 3, batch, n_cells), dtype=np.float32)  # Mbit per sub-step
    mean_arrivals = np.ascontiguousarray((drv.demand * dt).transpose(2, 0, 1))  # (S, B, C)
    np.multiply(drv.burst.transpose(1, 3, 0, 2), mean_arrivals, out=arrivals)
    buf_r, buf_l = _buffers(comp, batch)
    zero = _ZERO
    router = _Router(comp, drv)

    # Radio queues: q[k + 1] is the backlog after sub-step k; q[0] the carried-over backlog.
    q, served = _queue(state.q_radio.transpose(2, 0, 1), arrivals, radio_cap, buf_r)
    # Transport queues, fed by the served traffic of every sub-step.
    inflow = router.to_links(served)  # (K, S, B, L)
    ql, sent = _queue(state.q_link.transpose(2, 0, 1), inflow, link_cap, buf_l)

    # URLLC latency samples after every sub-step, ms (drain times of the queues on the path).
    inv_r = np.float32(1000.0) / np.maximum(radio_rate[URLLC], np.float32(1e-9))  # ms per Mbit
    inv_l = np.float32(1000.0) / np.maximum(link_rate[URLLC], np.float32(1e-9))
    link_ms = ql[1:, URLLC] * inv_l  # (K, B, L)
    link_ms += np.float32(tr.hop_latency_ms)
    delays = router.path_latency(link_ms)  # (K, B, C)
    delays += q[1:, URLLC] * inv_r
    # Capping the sum once equals capping every term first (all terms are non-negative).
    delays += np.float32(sim.radio_latency_ms)
    np.minimum(delays, cap_ms, out=delays)
    delays = np.ascontiguousarray(delays.transpose(1, 0, 2))  # (B, K, C)
    cut = router.cut()
    if cut is not None:  # traffic of a cell with no path to the hub is lost: latency at the cap
        rows, no_path = cut
        delays[rows] = np.where(no_path[:, None, :], cap_ms, delays[rows])

    # Overflow is never tracked per sub-step: by conservation, what was offered and neither
    # served nor still queued was dropped (the same for links).
    served_sum = served.sum(axis=0)  # (S, B, C)
    sent_sum = sent.sum(axis=0)  # (S, B, L)
    offered_cells = arrivals.sum(axis=0)
    lost_radio = (offered_cells - served_sum - (q[-1] - q[0])).sum(axis=2)
    lost_link = (inflow.sum(axis=0) - sent_sum - (ql[-1] - ql[0])).sum(axis=2)
    offered = offered_cells.sum(axis=2).T  # (B, S)
    unroutable = router.unroutable(served_sum)
    lost = np.minimum(np.maximum((lost_radio + lost_link).T + unroutable, zero), offered)
    # Nothing is served where nothing is allocated, so a tiny addend only avoids 0 / 0 (it is
    # below float32 resolution for any positive capacity).
    tiny, one, kk = np.float32(1e-30), np.float32(1.0), np.float32(k_sub)
    radio_util = np.minimum(served_sum / (radio_cap * kk + tiny), one)
    link_util = np.minimum(sent_sum / (link_cap * kk + tiny), one)
    new_state = CSWState(
        q_radio=q[-1].transpose(1, 2, 0).copy(), q_link=ql[-1].transpose(1, 2, 0).copy(), last_p=p, last_b=b
    )
    return new_state, StepResult(
        offered=np.ascontiguousarray(offered),
        lost=lost,
        unroutable=unroutable,
        radio_util=radio_util.transpose(1, 2, 0).copy(),
        link_util=link_util.transpose(1, 2, 0).copy(),
        urllc_delay=delays,
        cost=cost,
    )


class _Router:
    """Routes served traffic onto links for one slow step (slice-major arrays, batch on axis -2).

    Rows whose links are all up share the intact cell-to-link matrix and go through one matrix
    product; *degraded* rows (some link down) use their own routes from the drivers. When every
    row is degraded (a single episode with a failed link) no row needs gathering.
    """

    def __init__(self, comp: Compiled, drv: Drivers) -> None:
        self.cell_link = comp.cell_link  # (C, L) intact network
        self.cell_link_t = comp.cell_link_t  # (L, C)
        degraded = drv.degraded
        self.all_degraded = False
        self.degraded = _NONE
        self.route = self.reach = drv.reach  # placeholders; only read for degraded rows
        if degraded.any():
            self.all_degraded = bool(degraded.all())
            self.degraded = _ALL if self.all_degraded else np.flatnonzero(degraded)
            self.route = drv.route if self.all_degraded else drv.route[self.degraded]  # (F, C, L)
            self.reach = drv.reach if self.all_degraded else drv.reach[self.degraded]  # (F, C)

    def to_links(self, served: F32) -> F32:
        """``(..., B, L)`` traffic entering each link's queue from ``(..., B, C)`` served traffic."""
        if self.all_degraded:
            return (served[..., None, :] @ self.route)[..., 0, :]
        out = served @ self.cell_link
        if self.degraded.size:
            out[..., self.degraded, :] = (served[..., self.degraded, None, :] @ self.route)[..., 0, :]
        return out

    def path_latency(self, link_ms: F32) -> F32:
        """``(..., B, C)`` latency of each cell's transport path from per-link latencies ``(..., B, L)``, ms."""
        if self.all_degraded:
            return (self.route @ link_ms[..., None])[..., 0]
        out = link_ms @ self.cell_link_t
        if self.degraded.size:
            out[..., self.degraded, :] = (self.route @ link_ms[..., self.degraded, :, None])[..., 0]
        return out

    def cut(self) -> tuple[NDArray[np.int64] | slice, NDArray[np.bool_]] | None:
        """Degraded rows and, for those, the ``(F, C)`` mask of cells with no path; None if none."""
        if not self.degraded.size:
            return None
        return (slice(None) if self.all_degraded else self.degraded), self.reach == 0

    def unroutable(self, served_sum: F32) -> F32:
        """``(B, S)`` served traffic of cells with no path to the hub (lost), Mbit, from ``(S, B, C)``."""
        batch = served_sum.shape[1]
        out = np.zeros((batch, 3), dtype=np.float32)
        if self.degraded.size:
            rows = slice(None) if self.all_degraded else self.degraded
            out[rows] = (served_sum[:, rows] * (1.0 - self.reach)).sum(axis=2).T
        return out


_NONE = np.zeros(0, dtype=np.int64)
_ALL = np.zeros(1, dtype=np.int64)  # placeholder with size > 0 when every row is degraded


def record_step(ledger: Ledger, result: StepResult, t: int) -> None:
    """Add step ``t``'s result to the ledger, in place (the ledger's arrays are updated)."""
    k, c = result.urllc_delay.shape[1:]
    ledger.delays[:, t * k * c : (t + 1) * k * c] = result.urllc_delay.reshape(result.urllc_delay.shape[0], -1)
    ledger.offered[...] += result.offered
    ledger.lost[...] += result.lost
    ledger.unroutable[...] += result.unroutable
    ledger.cost_sum[...] += result.cost
