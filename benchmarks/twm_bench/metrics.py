"""Aggregates of benchmark records: mean with a 95 % confidence interval, and the decision axis.

The decision-accuracy axis (utility, SLA pass rate, constraint margin, regret against the
hindsight oracle) and the report's :class:`Row` are defined here; the field and trajectory axes
are ``field_axis.py`` and ``trajectory_axis.py``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from twm_bench.records import Record

_T95 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    12: 2.179,
    15: 2.131,
    20: 2.086,
    25: 2.060,
    30: 2.042,
    40: 2.021,
    60: 2.000,
    120: 1.980,
}


def t95(df: int) -> float:
    """Two-sided 95 % Student-t quantile for ``df`` degrees of freedom (table, rounded down in df)."""
    if df < 1:
        return float("nan")
    usable = [d for d in _T95 if d <= df]
    return _T95[max(usable)] if df <= 120 else 1.960


def mean_ci(values: list[float] | np.ndarray) -> tuple[float, float]:
    """Mean and the half-width of its 95 % confidence interval (Student t; nan for one value)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return float("nan"), float("nan")
    if x.size == 1:
        return float(x[0]), float("nan")
    return float(x.mean()), float(t95(x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))


@dataclass(frozen=True)
class Decision:
    """The decision-accuracy axis of one (agent, scenario)."""

    utility: float  # mean decision utility (twm_gym.core.kpi.Utility)
    pass_rate: float  # fraction of episodes with no SLA violation
    margin: float  # mean SCM: the smallest relative headroom to an SLA ceiling (paper eq. 2)
    regret: float  # mean over seeds of oracle utility - agent utility (nan without oracle records)


def decision_axis(records: list[Record]) -> dict[tuple[str, str], Decision]:
    """:class:`Decision` per (agent, scenario) from episodes without errors."""
    oracle: dict[tuple[str, int], float] = {
        (r.scenario, r.seed): r.utility for r in records if r.reference and r.utility is not None
    }
    groups: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for r in records:
        if r.error is None and r.utility is not None:
            groups[(r.agent, r.scenario)].append(r)
    out = {}
    for key, recs in groups.items():
        regrets = [
            oracle[(r.scenario, r.seed)] - float(r.utility or 0.0) for r in recs if (r.scenario, r.seed) in oracle
        ]
        out[key] = Decision(
            utility=float(np.mean([r.utility for r in recs])),
            pass_rate=float(np.mean([not r.kpis["global_violation"] for r in recs])),
            margin=float(np.mean([r.kpis["scm"] for r in recs])),
            regret=float(np.mean(regrets)) if regrets else float("nan"),
        )
    return out


@dataclass(frozen=True)
class Row:
    """One line of the report: an agent's aggregate over one scenario's episodes (or their average)."""

    agent: str
    scenario: str  # or "average"
    n: int
    errors: int
    scm: tuple[float, float]  # mean, 95 % CI half-width
    delta_cost: tuple[float, float]
    p_urllc: float
    p_fwa: float
    p_g: float
    loss: tuple[float, float, float]
    d99_ms: float  # median over episodes
    sim_calls: int  # per scenario: preparation + every episode
    decision_ms: float  # mean agent wall time per episode (preparation spread over episodes), ms
    utility: float
    regret: float
    reference: bool
