"""What an intent-conditioned episode is scored by: the intent's objective, SLA ceilings and share bounds.

An :class:`~twm_gym.intents.spec.IntentSpec` changes the decision utility (ours,
:class:`twm_gym.core.kpi.Utility`) in three ways:

* **objective**: ``w_c`` (``objective.compliance``) weighs the SLA Compliance Margin and ``w_k``
  (``objective.cost``) the cost reduction;
* **SLA ceilings**: each constraint lowers its slice's ceiling (loss ``max`` %, URLLC d99 ``max`` ms)
  below the scenario's, never raises it; a slice the operator waived (a typed field of the episode,
  never the text) has no ceiling;
* **share bounds**: each restriction is a floor and/or cap on the *applied* shares of its slice on
  its cells (``cell``, ``zone``, ``all``: PRB shares) or links (bandwidth shares), at every slow step
  of the intent's window (the whole episode without one). A floor ``f`` is used ``f / share`` and a
  cap ``c`` is used ``share / c``; shares within :data:`BOUND_TOLERANCE` of a bound meet it.

With the worst use ``u = max(l_s / tau_s, d99 / tau_d, bound uses)`` (``tau`` the intent's
ceilings), ``SCM_I = max(0, 1 - max(l_s / tau_s, d99 / tau_d))`` (paper eq. 2 with those
ceilings) and ``e = max(0, u - 1)``::

    U_I = w_c * SCM_I + w_k * dcost - 1[u > 1] * (1 + min(1, e))

The default spec (``compliance = 1``, ``cost = 0.5``, nothing else) gives the benchmark's utility
exactly. SLA ceilings read the whole episode (loss and d99 pool it, as the scenario's SLA does);
the window limits the share bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twm_gym.core.compiled import compile_scenario
from twm_gym.core.kpi import KPIs
from twm_gym.core.params import SLICES, URLLC, ZONES, Scenario
from twm_gym.intents.spec import IntentSpec

F32 = NDArray[np.float32]

BOUND_TOLERANCE = 0.01
"""A share within 1 % (relative) of its floor or cap meets it (float32 shares, rows scaled to sum 1)."""


@dataclass(frozen=True, eq=False)
class ShareBounds:
    """Per-step floors and caps of the shares an intent allows: ``(T, C, S)`` PRB, ``(T, L, S)`` bandwidth.

    Unbounded entries have floor 0 and cap 1.
    """

    floor_p: F32
    cap_p: F32
    floor_b: F32
    cap_b: F32

    @property
    def empty(self) -> bool:
        return not (self.floor_p.any() or self.floor_b.any() or (self.cap_p < 1).any() or (self.cap_b < 1).any())

    def at(self, t: int) -> ShareBounds:
        """The bounds of slow step ``t`` alone (one-step arrays: project a single step's shares)."""
        return ShareBounds(
            self.floor_p[t : t + 1], self.cap_p[t : t + 1], self.floor_b[t : t + 1], self.cap_b[t : t + 1]
        )

    def project(self, p: F32, b: F32) -> tuple[F32, F32]:
        """Plans ``p (..., T, C, S)``, ``b (..., T, L, S)`` moved into the bounds: each share clipped to
        its floor and cap, then every row brought to sum <= 1 by scaling down what lies above the
        floors (the floors stay). The admissible set of a spec is the image of this map."""
        return _within(p, self.floor_p, self.cap_p), _within(b, self.floor_b, self.cap_b)

    def use(self, p: F32, b: F32) -> F32:
        """``(...)`` worst bound use of plans ``p (..., T, C, S)``, ``b (..., T, L, S)`` (0: no bound;
        <= 1 + :data:`BOUND_TOLERANCE`: every bound met)."""
        worst = np.zeros(p.shape[:-3], np.float32)
        for x, floor, cap in ((p, self.floor_p, self.cap_p), (b, self.floor_b, self.cap_b)):
            x = np.asarray(x, np.float32)
            with np.errstate(divide="ignore", invalid="ignore"):
                under = np.where(floor > 0, floor / np.maximum(x, 1e-9), 0.0)
                over = np.where(
                    cap < 1, np.where(cap > 0, x / np.maximum(cap, 1e-9), np.where(x > 1e-6, np.inf, 0)), 0.0
                )
            u = np.maximum(under, over)
            worst = np.maximum(worst, u.reshape(*u.shape[:-3], -1).max(axis=-1))
        return worst


def share_bounds(spec: IntentSpec, scenario: Scenario) -> ShareBounds:
    """The floors and caps ``spec``'s restrictions put on ``scenario``'s shares at each slow step.

    Ids must exist (:func:`twm_gym.intents.spec.check`); a step outside the window is unbounded."""
    comp = compile_scenario(scenario)
    horizon, n_cells, n_links = scenario.horizon, scenario.n_cells, scenario.n_links
    s = len(SLICES)
    floor_p, cap_p = np.zeros((horizon, n_cells, s), np.float32), np.ones((horizon, n_cells, s), np.float32)
    floor_b, cap_b = np.zeros((horizon, n_links, s), np.float32), np.ones((horizon, n_links, s), np.float32)
    steps = np.ones(horizon, bool)
    if spec.window is not None:
        steps[:] = False
        steps[spec.window.start : spec.window.end + 1] = True
    for r in spec.restrictions:
        if r.scope == "link":
            rows, floor, cap = np.zeros(n_links, bool), floor_b, cap_b
        else:
            rows, floor, cap = np.zeros(n_cells, bool), floor_p, cap_p
        if r.scope in ("cell", "link"):
            rows[[int(i) for i in r.ids]] = True
        elif r.scope == "zone":
            rows |= comp.zones[[ZONES.index(z) for z in r.ids]].any(axis=0)
        else:
            rows[:] = True
        cols = np.zeros(s, bool)
        cols[[SLICES.index(r.slice)] if r.slice is not None else slice(None)] = True
        mask = steps[:, None, None] & rows[None, :, None] & cols[None, None, :]
        if r.floor is not None:
            floor[mask] = np.maximum(floor[mask], r.floor)
        if r.cap is not None:
            cap[mask] = np.minimum(cap[mask], r.cap)
    return ShareBounds(floor_p, cap_p, floor_b, cap_b)


def _within(x: F32, floor: F32, cap: F32) -> F32:
    x = np.minimum(np.maximum(np.asarray(x, np.float32), floor), np.maximum(cap, floor))
    extra = np.maximum(x - floor, 0.0)
    room = np.maximum(1.0 - floor.sum(axis=-1, keepdims=True), 0.0)
    used = extra.sum(axis=-1, keepdims=True)
    scale = np.where(used > room, room / np.maximum(used, 1e-12), 1.0)
    return np.clip(floor + extra * scale, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class IntentUtility:
    """The utility of an episode under an intent (module docstring); a drop-in for
    :class:`~twm_gym.core.kpi.Utility` (``__call__(kpis)``) with the bound use as an extra input."""

    loss_ceiling: tuple[float, float, float] = (0.25, 0.10, 0.20)  # fractions, per slice (inf: waived)
    d99_ceiling_ms: float = 20.0  # inf: URLLC waived
    w_compliance: float = 1.0
    w_cost: float = 0.5
    w_violation: float = 1.0
    w_excess: float = 1.0
    excess_cap: float = 1.0

    @classmethod
    def of(
        cls, spec: IntentSpec | None, scenario: Scenario, waived: tuple[str, ...] = (), w_violation: float = 1.0
    ) -> IntentUtility:
        """The utility ``spec`` defines on ``scenario`` (``None``: the benchmark's default objective)."""
        unknown = sorted(set(waived) - set(SLICES))
        if unknown:
            raise ValueError(f"waived: {unknown} are not slices; valid: {list(SLICES)}")
        loss = [float(x) for x in scenario.sla.loss_ceiling]
        d99 = float(scenario.sla.d99_ceiling_ms)
        compliance, cost = 1.0, 0.5
        if spec is not None:
            compliance, cost = spec.objective.compliance, spec.objective.cost
            for c in spec.constraints:
                k = SLICES.index(c.slice)
                if c.metric == "loss":
                    loss[k] = min(loss[k], c.max / 100.0)
                else:
                    d99 = min(d99, c.max)
        for name in waived:
            loss[SLICES.index(name)] = float("inf")
            if SLICES.index(name) == URLLC:
                d99 = float("inf")
        return cls((loss[0], loss[1], loss[2]), d99, compliance, cost, w_violation)

    def sla_use(self, loss: ArrayLike, d99_ms: ArrayLike) -> F32:
        """``(B,)`` worst ratio of a slice's loss ``(B, S)`` or URLLC's d99 ``(B,)`` to its ceiling."""
        use = np.concatenate(
            [
                np.asarray(loss, np.float32) / np.asarray(self.loss_ceiling, np.float32),
                (np.asarray(d99_ms, np.float32) / np.float32(self.d99_ceiling_ms))[..., None],
            ],
            axis=-1,
        )
        return use.max(axis=-1).astype(np.float32)

    def of_columns(self, loss: ArrayLike, d99_ms: ArrayLike, delta_cost: ArrayLike, bound_use: ArrayLike = 0.0) -> F32:
        """The utility of KPI columns: loss ``(B, S)``, d99 ``(B,)`` ms, cost reduction ``(B,)``."""
        sla = self.sla_use(loss, d99_ms)
        worst = np.maximum(sla, np.where(np.asarray(bound_use) > 1.0 + BOUND_TOLERANCE, bound_use, 0.0))
        scm = np.maximum(1.0 - sla, 0.0)
        violated = worst > 1.0
        penalty = self.w_violation + self.w_excess * np.minimum(worst - 1.0, self.excess_cap)
        u = self.w_compliance * scm + self.w_cost * np.asarray(delta_cost) - np.where(violated, penalty, 0.0)
        return np.asarray(u, np.float32)

    def __call__(self, kpis: KPIs) -> F32:
        return self.of_columns(kpis.loss, kpis.d99_ms, kpis.delta_cost)

    def of_record(self, kpis: dict[str, float], bound_use: float = 0.0) -> float:
        """The utility of one episode's KPI row (:meth:`twm_gym.core.kpi.KPIs.row`)."""
        loss = np.array([[kpis[f"loss_{s}"] for s in SLICES]], np.float32)
        return float(self.of_columns(loss, np.array([kpis["d99_ms"]]), np.array([kpis["delta_cost"]]), bound_use)[0])
