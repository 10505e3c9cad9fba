"""Prescreen: reject structurally unsafe candidates before any world model or simulator looks at them.

The embedded prescreen reads only the scenario's public description and the candidate's shares
(zero cost to the world models). With the *nominal* offered load (base demand x the busy-hour
profile) and the capacity the candidate allocates (share x the cell's nominal capacity; share x
link capacity for the load routed over a link with every link up), it estimates each slice's
fluid loss (load beyond capacity, pooled over the episode as the SLA pools it) against the loss
ceiling, and counts the URLLC cell-steps loaded past ``URLLC_HEADROOM`` of their capacity: more
than 1 % of the cell-steps means more than 1 % of the latency samples queue, which breaks the
99th-percentile ceiling. A candidate over either budget is rejected, with the reason.

It screens the nominal load only: a plan that fails only under a shock (lean where a hotspot
lands) passes, and is the world models' to rank down. Ground truth
(``benchmarks/perf/perf_prescreen.py`` prints precision and both recalls): a candidate is unsafe if
it violates the SLA in most of the twin's rollouts, of the scenario (precision) or of the same
scenario without shocks (recall, ``Scenario.without_shocks``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from twm_gym.core.candidates import CandidateLibrary
from twm_gym.core.compiled import compile_scenario
from twm_gym.core.params import SLICES, URLLC, Scenario

F32 = NDArray[np.float32]

URLLC_HEADROOM = 0.9
"""Nominal URLLC load over allocated capacity past which a cell-step's URLLC traffic queues."""


@dataclass(frozen=True, eq=False)
class Prescreen:
    """Per candidate: kept or rejected, the worst load ratio over its limit, and why."""

    keep: NDArray[np.bool_]  # (N,)
    worst: F32  # (N,) the larger of estimated loss / ceiling (worst slice) and URLLC hot cell-steps / budget
    reasons: tuple[str, ...]  # (N,) "" for kept candidates


def load_ratios(scenario: Scenario, p: F32, b: F32, demand: F32 | None = None) -> tuple[F32, F32, F32, F32]:
    """How far plans ``p (N, T, C, S)``, ``b (N, T, L, S)`` load each slice past its SLA under ``demand``.

    ``demand (T, C, S)`` Mbps defaults to the scenario's nominal load (base demand x the busy-hour
    profile). Returns the fluid loss ``(N, S)`` (load beyond the allocated radio and link capacity,
    pooled over the steps as the SLA pools it), its ratio to the loss ceilings ``(N, S)``, the URLLC
    cell-steps loaded past ``URLLC_HEADROOM`` ``(N,)`` and their ratio to the 1 % budget ``(N,)``.
    """
    comp = compile_scenario(scenario)
    if demand is None:
        demand = comp.base_demand[None, :, :] * comp.profile[:, None, :]  # (T, C, S) Mbps
    horizon = min(p.shape[1], demand.shape[0])
    demand = demand[:horizon]
    n = p.shape[0]
    tau = np.asarray(scenario.sla.loss_ceiling, dtype=np.float32)
    # Fluid loss: what exceeds the allocated capacity is lost, pooled over the episode as the SLA is.
    cap = p[:, :horizon] * comp.nominal_capacity[None, None, :, None]  # (N, T, C, S)
    excess = np.maximum(demand[None] - cap, 0.0).sum(axis=(1, 2))  # (N, S)
    link_load = np.einsum("cl,tcs->tls", comp.cell_link, demand)  # (T, L, S)
    link_cap = b[:, :horizon] * comp.link_mbps[None, None, :, None]
    excess += np.maximum(link_load[None] - link_cap, 0.0).sum(axis=(1, 2))
    loss = (excess / np.maximum(demand.sum(axis=(0, 1))[None], 1e-9)).astype(np.float32)  # (N, S)
    # URLLC latency: a cell-step loaded past the headroom queues for the whole step (all its
    # samples); with T*C cell-steps, more than 1 % of them loaded that way breaks the d99 ceiling.
    rho = demand[None, :, :, URLLC] / np.maximum(cap[..., URLLC], 1e-6)  # (N, T, C)
    hot = (rho > URLLC_HEADROOM).reshape(n, -1).sum(axis=1).astype(np.float32)
    budget = 0.01 * horizon * comp.n_cells
    return loss, (loss / tau).astype(np.float32), hot, (hot / max(budget, 1e-9)).astype(np.float32)


def prescreen(scenario: Scenario, library: CandidateLibrary) -> Prescreen:
    """Screen every candidate of ``library`` against ``scenario``'s nominal load."""
    comp = compile_scenario(scenario)
    horizon = min(library.p.shape[1], comp.profile.shape[0])
    n = len(library)
    tau = np.asarray(scenario.sla.loss_ceiling, dtype=np.float32)
    loss, loss_ratio, hot, latency_ratio = load_ratios(scenario, library.p, library.b)
    worst = np.maximum(loss_ratio.max(axis=1), latency_ratio).astype(np.float32)
    reasons = []
    for i in range(n):
        if worst[i] <= 1.0:
            reasons.append("")
        elif latency_ratio[i] >= loss_ratio[i].max():
            reasons.append(
                f"URLLC nominal load exceeds {URLLC_HEADROOM:.0%} of its capacity in {int(hot[i])} cell-steps "
                f"(more than 1 % of {horizon * comp.n_cells}: the 99th-percentile latency would break)"
            )
        else:
            s = int(np.argmax(loss_ratio[i]))
            reasons.append(
                f"nominal {SLICES[s]} load beyond the allocated capacity loses {loss[i, s]:.1%} (ceiling {tau[s]:.0%})"
            )
    return Prescreen(keep=worst <= 1.0, worst=worst, reasons=tuple(reasons))
