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

from dataclasses import dataclass

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
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        pos = np.unravel_index(int(np.flatnonzero(bad)[0]), shape)
        value = arr[pos]
        where = ", ".join(
            f"{ax} {SLICES[int(i)] if ax == 'slice' else int(i)}" for ax, i in zip(axis_names, pos, strict=False)
        )
        kind = "negative" if np.isfinite(value) else str(value)
        raise ValueError(f"{name}[{where}] is {kind} ({value}); shares must be finite and >= 0")
    total = arr.sum(axis=-1, keepdims=True)
    return np.where(total > 1.0, arr / np.maximum(total, 1e-30), arr).astype(np.float32)


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


def csw_step(comp: Compiled, state: CSWState, drv: Drivers, p: F32, b: F32, cost: F32) -> tuple[CSWState, StepResult]:
    """Run one slow step of ``K`` fast sub-steps with shares ``p (B,C,S)`` and ``b (B,L,S)``.

    ``p`` and ``b`` must already be projected (:func:`project_shares`); ``cost`` is the step's
    control cost, passed through to the result.
    """
    sim, tr = comp.scenario.sim, comp.scenario.transport
    k_sub = sim.substeps
    dt = np.float32(sim.slow_step_s / k_sub)
    cap_ms = np.float32(sim.latency_cap_ms)
    # Inside the loop arrays are slice-major, (S, B, C) and (S, B, L): every slice is contiguous,
    # and aggregating cells into nodes and routing nodes onto links are single matrix products.
    radio_rate = np.ascontiguousarray((p * drv.capacity[:, :, None]).transpose(2, 0, 1))  # Mbps
    radio_cap = radio_rate * dt  # Mbit per sub-step
    link_rate = np.ascontiguousarray((b * drv.link_avail[:, :, None]).transpose(2, 0, 1))
    link_cap = link_rate * dt
    arrivals = np.ascontiguousarray((drv.burst * (drv.demand * dt)[:, None]).transpose(1, 3, 0, 2))  # (K,S,B,C)
    buf_r = np.asarray(sim.radio_buffer_mbit, dtype=np.float32)[:, None, None]
    buf_l = np.asarray(tr.buffer_mbit, dtype=np.float32)[:, None, None]
    inv_r = np.float32(1000.0) / np.maximum(radio_rate[URLLC], np.float32(1e-9))  # ms per Mbit
    inv_l = np.float32(1000.0) / np.maximum(link_rate[URLLC], np.float32(1e-9))
    router = _Router(comp, drv)
    base_ms = np.float32(sim.radio_latency_ms)
    hop_ms = np.float32(tr.hop_latency_ms)

    batch, n_cells = p.shape[0], p.shape[1]
    q0 = np.ascontiguousarray(state.q_radio.transpose(2, 0, 1))  # (S, B, C) Mbit
    ql0 = np.ascontiguousarray(state.q_link.transpose(2, 0, 1))  # (S, B, L) Mbit
    q, ql = q0.copy(), ql0.copy()
    served_sum = np.zeros_like(q)
    sent_sum = np.zeros_like(ql)
    served = np.empty_like(q)
    sent = np.empty_like(ql)
    delays = np.empty((k_sub, batch, n_cells), dtype=np.float32)
    # Overflow is never tracked per sub-step: by conservation, what was offered and neither
    # served nor still queued was dropped (the same for links).
    for k in range(k_sub):
        q += arrivals[k]
        np.minimum(q, radio_cap, out=served)
        q -= served
        served_sum += served
        np.minimum(q, buf_r, out=q)
        ql += router.to_links(served)
        np.minimum(ql, link_cap, out=sent)
        ql -= sent
        sent_sum += sent
        np.minimum(ql, buf_l, out=ql)
        link_ms = ql[URLLC] * inv_l
        link_ms += hop_ms
        cell_ms = router.path_latency(link_ms)
        cell_ms += q[URLLC] * inv_r
        delays[k] = cell_ms
    # Capping the sum once equals capping every term first (all terms are non-negative).
    delays += base_ms
    np.minimum(delays, cap_ms, out=delays)
    delays = delays.transpose(1, 0, 2)
    if router.degraded.size:  # traffic of a cell whose node has no path is lost: latency at the cap
        cut = router.reach_deg[:, comp.cell_node] == 0  # (F, C)
        delays[router.degraded] = np.where(cut[:, None, :], cap_ms, delays[router.degraded])

    offered_cells = arrivals.sum(axis=0)  # (S, B, C)
    lost_radio = (offered_cells - served_sum - (q - q0)).sum(axis=2)
    lost_link = (router.to_links(served_sum) - sent_sum - (ql - ql0)).sum(axis=2)
    offered = offered_cells.sum(axis=2).T  # (B, S)
    unroutable = router.unroutable(served_sum)
    lost = np.clip((lost_radio + lost_link).T + unroutable, 0.0, offered)
    total_r = radio_cap * np.float32(k_sub)
    total_l = link_cap * np.float32(k_sub)
    radio_util = np.where(total_r > 0, served_sum / np.maximum(total_r, 1e-9), 0.0).astype(np.float32)
    link_util = np.where(total_l > 0, sent_sum / np.maximum(total_l, 1e-9), 0.0).astype(np.float32)
    new_state = CSWState(q_radio=q.transpose(1, 2, 0).copy(), q_link=ql.transpose(1, 2, 0).copy(), last_p=p, last_b=b)
    return new_state, StepResult(
        offered=np.ascontiguousarray(offered),
        lost=lost.astype(np.float32),
        unroutable=unroutable,
        radio_util=radio_util.transpose(1, 2, 0).copy(),
        link_util=link_util.transpose(1, 2, 0).copy(),
        urllc_delay=np.ascontiguousarray(delays),
        cost=cost,
    )


class _Router:
    """Routes served traffic onto links for one slow step (slice-major arrays).

    Rows whose links are all up share the intact routing matrix and go through one matrix product;
    only the *degraded* rows (some link down) use their own routes.
    """

    def __init__(self, comp: Compiled, drv: Drivers) -> None:
        self.node_cell = comp.node_cell  # (C, N)
        self.cell_node_t = np.ascontiguousarray(comp.node_cell.T)  # (N, C)
        self.cell_link = comp.node_cell @ comp.intact_route  # (C, L) cell -> links, intact network
        self.intact_t = np.ascontiguousarray(comp.intact_route.T)  # (L, N)
        self.degraded = np.flatnonzero(~drv.link_up.all(axis=1))
        self.route_deg = drv.route[self.degraded]  # (F, N, L)
        self.reach_deg = drv.reach[self.degraded]  # (F, N)

    def to_links(self, served: F32) -> F32:
        """``(S, B, L)`` traffic entering each link's queue from ``(S, B, C)`` served traffic."""
        out = served @ self.cell_link
        if self.degraded.size:
            node_in = served[:, self.degraded] @ self.node_cell  # (S, F, N)
            out[:, self.degraded] = (node_in[:, :, None, :] @ self.route_deg)[:, :, 0, :]
        return out

    def path_latency(self, link_ms: F32) -> F32:
        """``(B, C)`` latency of each cell's transport path from per-link latencies ``(B, L)``, ms."""
        node_ms = link_ms @ self.intact_t
        if self.degraded.size:
            node_ms[self.degraded] = (self.route_deg @ link_ms[self.degraded][:, :, None])[:, :, 0]
        return node_ms @ self.cell_node_t

    def unroutable(self, served_sum: F32) -> F32:
        """``(B, S)`` served traffic of nodes with no path to the hub (lost), Mbit."""
        out = np.zeros((served_sum.shape[1], served_sum.shape[0]), dtype=np.float32)
        if self.degraded.size:
            node_in = served_sum[:, self.degraded] @ self.node_cell  # (S, F, N)
            out[self.degraded] = (node_in * (1.0 - self.reach_deg)[None]).sum(axis=2).T
        return out


def record_step(ledger: Ledger, result: StepResult, t: int) -> None:
    """Add step ``t``'s result to the ledger, in place (the ledger's arrays are updated)."""
    k, c = result.urllc_delay.shape[1:]
    ledger.delays[:, t * k * c : (t + 1) * k * c] = result.urllc_delay.reshape(result.urllc_delay.shape[0], -1)
    ledger.offered[...] += result.offered
    ledger.lost[...] += result.lost
    ledger.unroutable[...] += result.unroutable
    ledger.cost_sum[...] += result.cost
