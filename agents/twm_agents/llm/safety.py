"""Safety of a compiled intent judged by its effect, not its words.

Whatever a compiler returns (the embedded rules or a model), :func:`spec_issues` asks what its
share bounds *do*: it builds the demand-sized plan (every slice given the capacity its nominal
load needs, URLLC under its latency headroom; rows scaled to fit) and the same plan moved into the
spec's bounds (:meth:`twm_gym.intents.ShareBounds.project`), and compares each slice's fluid loss
ratio and URLLC latency ratio under the nominal load (:func:`~twm_agents.llm.prescreen.load_ratios`).
A slice that meets its SLA without the bounds but breaks it with them (or whose breach they
deepen) is starved by the intent:
the spec is refused with an :class:`~twm_gym.intents.Issue` naming the slice and the numbers,
unless the operator waived that slice's SLA in a typed field (``waived``), never in the text.
A cap of 1e-9 and a cap of 1 % are refused alike, whatever words asked for them.

:func:`starved_slices` is the same test for one step's plan under the demand seen now; the LLM
agent applies it to every plan before playing it (:mod:`twm_agents.llm.agent`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from twm_agents.llm.prescreen import URLLC_HEADROOM, load_ratios
from twm_gym.core.compiled import compile_scenario
from twm_gym.core.params import SLICES, URLLC, Scenario
from twm_gym.intents import IntentSpec, Issue, ShareBounds, share_bounds

F32 = NDArray[np.float32]

DEEPER = 1e-3
"""A bounded plan's ratio must exceed the unbounded plan's by more than this to count as deeper."""

LATENCY_HEADROOM = 0.85
"""The demand-sized plan loads URLLC to 85 % of its capacity (below ``URLLC_HEADROOM``)."""


def demand_sized(scenario: Scenario, demand: F32) -> tuple[F32, F32]:
    """``p (T, C, S)``, ``b (T, L, S)``: each slice's share sized to ``demand (T, C, S)`` Mbps (URLLC at
    :data:`LATENCY_HEADROOM` utilization), rows above 1 scaled down to fit."""
    comp = compile_scenario(scenario)
    headroom = np.ones(len(SLICES), np.float32)
    headroom[URLLC] = 1.0 / LATENCY_HEADROOM
    p = demand * headroom / comp.nominal_capacity[None, :, None]
    link_load = np.einsum("cl,tcs->tls", comp.cell_link, demand)
    b = link_load * headroom / comp.link_mbps[None, :, None]
    return _fit(p), _fit(b)


def _fit(x: F32) -> F32:
    total = x.sum(axis=-1, keepdims=True)
    return np.clip(np.where(total > 1.0, x / np.maximum(total, 1e-12), x), 0.0, 1.0).astype(np.float32)


def starved_slices(
    scenario: Scenario, free: tuple[F32, F32], bounded: tuple[F32, F32], demand: F32, waived: tuple[str, ...] = ()
) -> dict[str, str]:
    """Slices the ``bounded`` plan starves, each with the reason.

    Plans are ``(p (T, C, S), b (T, L, S))`` for the steps of ``demand (T, C, S)`` Mbps. A slice is
    starved when its loss ratio (or, for URLLC, its latency ratio) with the bounds is above 1 and
    above its ratio without them (by more than :data:`DEEPER`): the bounds break its SLA, or deepen
    a breach the demand causes anyway. Slices in ``waived`` are never reported."""
    _, free_loss, _, free_lat = load_ratios(scenario, free[0][None], free[1][None], demand)
    loss, bounded_loss, hot, bounded_lat = load_ratios(scenario, bounded[0][None], bounded[1][None], demand)
    out: dict[str, str] = {}
    tau = scenario.sla.loss_ceiling
    for k, name in enumerate(SLICES):
        if name in waived:
            continue
        if bounded_loss[0, k] > max(1.0, free_loss[0, k]) + DEEPER:
            out[name] = (
                f"its share bounds leave {name} {loss[0, k]:.1%} of its nominal load unserved "
                f"(SLA ceiling {tau[k]:.0%}; {free_loss[0, k] * tau[k]:.1%} without them)"
            )
        elif k == URLLC and bounded_lat[0] > max(1.0, free_lat[0]) + DEEPER:
            out[name] = (
                f"its share bounds load URLLC past {URLLC_HEADROOM:.0%} of its capacity in {int(hot[0])} "
                "cell-steps: its 99th-percentile latency would break the SLA"
            )
    return out


def spec_issues(spec: IntentSpec, scenario: Scenario, waived: tuple[str, ...] = ()) -> list[Issue]:
    """An issue for every slice ``spec``'s share bounds starve below its SLA under the nominal load."""
    bounds = share_bounds(spec, scenario)
    if bounds.empty:
        return []
    contradictions = _contradictions(bounds)
    if contradictions:
        return contradictions
    comp = compile_scenario(scenario)
    demand = (comp.base_demand[None, :, :] * comp.profile[:, None, :]).astype(np.float32)
    free = demand_sized(scenario, demand)
    bounded = bounds.project(*free)
    return [
        Issue(
            field="restrictions",
            message=f"unsafe in effect: {reason}",
            question=f"Which share should {name} keep (or is its SLA explicitly waived for this episode)?",
        )
        for name, reason in starved_slices(scenario, free, bounded, demand, waived).items()
    ]


def _contradictions(bounds: ShareBounds) -> list[Issue]:
    """Bounds no plan meets: a floor above a cap, or floors of one cell or link summing above 1
    (across restrictions as well as within one)."""
    out = []
    for what, floor, cap in (("cell", bounds.floor_p, bounds.cap_p), ("link", bounds.floor_b, bounds.cap_b)):
        t, row, k = np.unravel_index(np.argmax(floor - cap), floor.shape)
        if floor[t, row, k] > cap[t, row, k] + 1e-9:
            out.append(
                Issue(
                    field="restrictions",
                    message=f"{SLICES[k]} on {what} {row} has a floor {floor[t, row, k]:g} above its cap "
                    f"{cap[t, row, k]:g} (step {t})",
                    question="Should the floor or the cap change?",
                )
            )
        total = floor.sum(axis=-1)
        if (total > 1.0 + 1e-9).any():
            t, row = np.unravel_index(np.argmax(total), total.shape)
            out.append(
                Issue(
                    field="restrictions",
                    message=f"share floors on {what} {row} sum to {total[t, row]:g} > 1 (step {t})",
                    question="Which slice's floor should be lowered?",
                )
            )
    return out
