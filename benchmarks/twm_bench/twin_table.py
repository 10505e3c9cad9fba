"""The twin's KPI table: reference policies from the candidate library on every scenario.

This is the project's main job until the agent harness lands: for each scenario, the uniform 1/3
allocation, the library's cheapest candidate and the best library candidate by mean utility over
the seeds (a plain search with full hindsight over the seed set, shown as a reference point).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from twm_gym.core import SLICES, Rollout, simulate, violation_probabilities
from twm_gym.core.candidates import candidate_library
from twm_gym.scenarios import load_scenario


@dataclass(frozen=True)
class Row:
    scenario: str
    policy: str
    scm: float
    delta_cost: float
    p_urllc: float
    p_fwa: float
    p_g: float
    loss: tuple[float, float, float]
    d99_ms: float  # median over seeds
    utility: float


def twin_table(scenarios: list[str], n_seeds: int, seed0: int = 0) -> tuple[list[Row], float]:
    """Rows of the KPI table and the measured twin throughput (rollouts/s)."""
    rows: list[Row] = []
    n_rollouts, elapsed = 0, 0.0
    for name in scenarios:
        sc = load_scenario(name)
        lib = candidate_library(sc)
        n = len(lib)
        seeds = np.arange(seed0, seed0 + n_seeds)
        start = time.perf_counter()
        out = simulate(sc, np.repeat(lib.p, n_seeds, 0), np.repeat(lib.b, n_seeds, 0), np.tile(seeds, n))
        elapsed += time.perf_counter() - start
        n_rollouts += n * n_seeds
        util = out.utility.reshape(n, n_seeds).mean(axis=1)
        cost = out.kpis.cost.reshape(n, n_seeds).mean(axis=1)
        picks = {"uniform": 0, "cheapest": int(np.argmin(cost)), "library-best": int(np.argmax(util))}
        for label, i in picks.items():
            rows.append(_row(name, f"{label} ({lib.names[i]})", out, i, n_seeds))
    return rows, n_rollouts / max(elapsed, 1e-9)


def _row(scenario: str, policy: str, out: Rollout, i: int, n_seeds: int) -> Row:
    rows = slice(i * n_seeds, (i + 1) * n_seeds)
    k = out.kpis.take(rows)
    probs = violation_probabilities(k)
    loss = k.loss.mean(axis=0)
    return Row(
        scenario=scenario,
        policy=policy,
        scm=float(k.scm.mean()),
        delta_cost=float(k.delta_cost.mean()),
        p_urllc=probs["P_urllc"],
        p_fwa=probs["P_fwa"],
        p_g=probs["P_g"],
        loss=(float(loss[0]), float(loss[1]), float(loss[2])),
        d99_ms=float(np.median(k.d99_ms)),
        utility=float(out.utility[rows].mean()),
    )


def format_table(rows: list[Row]) -> str:
    """A fixed-width text table."""
    head = (
        f"{'scenario':<12} {'policy':<52} {'SCM':>6} {'dcost':>6} {'P_urllc':>7} {'P_fwa':>6} {'P_g':>5} "
        + " ".join(f"{'l_' + s:>7}" for s in SLICES)
        + f" {'d99ms':>6} {'U':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.scenario:<12} {r.policy:<52} {r.scm:6.3f} {r.delta_cost:6.3f} {r.p_urllc:7.2f} {r.p_fwa:6.2f} "
            f"{r.p_g:5.2f} " + " ".join(f"{x:7.3f}" for x in r.loss) + f" {r.d99_ms:6.1f} {r.utility:6.3f}"
        )
    return "\n".join(lines)
