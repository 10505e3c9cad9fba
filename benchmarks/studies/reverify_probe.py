"""Would ``twm`` gain by asking the nominal twin again once a shock shows? A probe, not an agent.

    python benchmarks/studies/paired.py twm reverify_probe:ReverifyProbe --seeds 100:164 \\
        --scenarios wave-ood wave-id [--b at=every pool=library probe_seeds=4]

:class:`ReverifyProbe` is the shipped planner (every :class:`~twm_agents.twm.planner.PlannerConfig`
option passes through) with one addition that no budget pays for: at the first step at which a
shock is live in the snapshot (``at="shock"``), or at every step from the first on
(``at="every"``), it rolls the executing plan's remaining steps and each alternative's out from
the live snapshot on ``probe_seeds`` seeds of the *nominal* twin (common seeds, unmetered: these
calls are not charged to the agent's 12 per horizon), and switches to the best alternative whose
mean utility beats the plan's by ``probe_margin`` and whose violation rate passes the guardrail.
The alternatives are Phase 1's ranked survivors (``pool="survivors"``, the planner's
``alternatives`` best) or the whole library (``pool="library"``).

The snapshot carries what the nominal model gets wrong about an OOD shock once it has begun (its
intensity and how long it still lasts), so the probe measures how much of the OOD gap a planner
could close by re-verifying in-episode with far more calls than a reallocation of its 12 per
horizon could buy (``docs/explanation/findings.md``, "What is left"). What the snapshot does not carry (the OOD
cross-traffic and failure rates) stays nominal, as in :class:`planner_bounds.ReplanBound`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from twm_agents.base import AGENT_SEED_DOMAIN, Action, EpisodeContext, Observation
from twm_agents.twm.planner import TWMPlanner
from twm_gym.core.rng import domain_seeds
from twm_gym.core.state import Snapshot
from twm_gym.core.twin import simulate

TRIGGERS = ("shock", "every")
POOLS = ("survivors", "library")
_SEED_OFFSET = 1_000_000
"""Probe seeds start here in the agents' seed domain, apart from the planner's verification seeds."""


class ReverifyProbe(TWMPlanner):
    """``twm`` plus unmetered in-episode re-verification on the nominal twin (see the module)."""

    name: ClassVar[str] = "reverify-probe"

    def __init__(
        self,
        at: str = "shock",
        pool: str = "survivors",
        probe_seeds: int = 4,
        probe_margin: float = 0.0,
        **options: Any,
    ) -> None:
        if at not in TRIGGERS:
            raise ValueError(f"at: must be one of {list(TRIGGERS)}, got {at!r}")
        if pool not in POOLS:
            raise ValueError(f"pool: must be one of {list(POOLS)}, got {pool!r}")
        if probe_seeds < 1:
            raise ValueError(f"probe_seeds: must be >= 1, got {probe_seeds}")
        super().__init__(**options)
        self.at, self.pool, self.probe_seeds, self.probe_margin = at, pool, probe_seeds, float(probe_margin)

    def reset(self, context: EpisodeContext) -> None:
        super().reset(context)
        self.probes = 0
        self.probe_switches = 0

    def act(self, observation: Observation) -> Action:
        t = self._t
        live = self._plan is not None and self.locked_at < 0 and self.handed_over_at < 0
        if t > 0 and live and (self.at == "every" or self.probes == 0):
            snap = self.ctx.snapshot()
            if self.at == "every" or bool((snap.egw.ev_left[0] > 0).any()):
                self._reverify(t, snap)
        return super().act(observation)

    def _reverify(self, t: int, snap: Snapshot) -> None:
        """Roll the plan and every alternative out from ``snap``; switch to the best past the margin."""
        assert self._plan is not None
        lib, k = self.ctx.card.library, self.probe_seeds
        self.probes += 1
        alternatives = np.arange(len(lib)) if self.pool == "library" else self._survivors[: self.config.alternatives]
        p = np.concatenate([self._plan[0][None, t:], lib.p[alternatives, t:]])
        b = np.concatenate([self._plan[1][None, t:], lib.b[alternatives, t:]])
        m = p.shape[0]
        seeds = domain_seeds(_SEED_OFFSET + k * (16 * self.ctx.episode + t) + np.arange(k), AGENT_SEED_DOMAIN)
        out = simulate(self.ctx.card.nominal, p.repeat(k, 0), b.repeat(k, 0), np.tile(seeds, m), start=snap)
        u = self.utility(out.kpis).reshape(m, k).mean(axis=1)
        violation = out.kpis.global_violation.reshape(m, k).mean(axis=1)
        passing = violation <= max(self.config.guardrail, float(violation[0]))
        best = int(np.argmax(np.where(passing, u, -np.inf)))
        if best > 0 and u[best] > u[0] + self.probe_margin:
            plan_p, plan_b = self._plan[0].copy(), self._plan[1].copy()
            plan_p[t:], plan_b[t:] = p[best], b[best]
            self._plan = (plan_p, plan_b)
            self.probe_switches += 1
        self._log("probe-reverify", {"step": t, "candidates": m, "utility": u, "chosen": best})

    def metrics(self) -> dict[str, float]:
        return {**super().metrics(), "probes": float(self.probes), "probe_switches": float(self.probe_switches)}
