"""The report's two figures (matplotlib, imported here only): the cost-compliance Pareto front
(mean Δcost against mean SCM per agent, as the paper's fig. 6) and SCM by agent and scenario
(fig. 7). Each is written as PNG and SVG."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from twm_bench.metrics import Row


def _figure(width: float, height: float):  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110)


def _save(fig, stem: Path) -> None:  # type: ignore[no-untyped-def]
    fig.tight_layout()
    fig.savefig(stem.with_suffix(".png"))
    fig.savefig(stem.with_suffix(".svg"))


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points when both coordinates are to be maximized."""
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any((x2 >= x and y2 >= y) and (x2 > x or y2 > y) for j, (x2, y2) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return front


def pareto_plot(rows: list[Row], stem: Path) -> None:
    """Mean Δcost (x) against mean SCM (y), one point per agent (averaged over scenarios)."""
    avg = [r for r in rows if r.scenario == "average" and not np.isnan(r.scm[0])]
    fig = _figure(5.2, 4.0)
    ax = fig.add_subplot()
    pts = [(100 * r.delta_cost[0], 100 * r.scm[0]) for r in avg]
    front = pareto_front([p for p, r in zip(pts, avg, strict=True) if not r.reference] or pts)
    competitors = [p for p, r in zip(pts, avg, strict=True) if not r.reference]
    for (x, y), r in zip(pts, avg, strict=True):
        ax.scatter([x], [y], marker="*" if r.reference else "o", s=70, zorder=3)
        ax.annotate(
            r.agent + (" (ref.)" if r.reference else ""), (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8
        )
    if competitors:
        fx, fy = zip(*sorted(competitors[i] for i in front), strict=True)
        ax.plot(fx, fy, color="grey", ls="--", lw=1, label="Pareto front (competitors)")
        ax.legend(fontsize=7, loc="lower left")
    ax.axvline(0, color="black", lw=0.5)
    ax.set_xlabel("Δcost vs uniform (%)")
    ax.set_ylabel("mean SCM (%)")
    ax.set_title("Cost-compliance trade-off (mean over scenarios)", fontsize=9)
    _save(fig, stem)


def scm_plot(rows: list[Row], stem: Path) -> None:
    """Grouped bars: mean SCM with 95 % interval per agent, one group per scenario."""
    per = [r for r in rows if r.scenario != "average"]
    scenarios = list(dict.fromkeys(r.scenario for r in per))
    agents = list(dict.fromkeys(r.agent for r in per))
    fig = _figure(max(5.0, 1.4 * len(scenarios) + 2), 3.8)
    ax = fig.add_subplot()
    width = 0.8 / max(len(agents), 1)
    for k, agent in enumerate(agents):
        xs, ys, es = [], [], []
        for i, sc in enumerate(scenarios):
            match = [r for r in per if r.agent == agent and r.scenario == sc]
            if match:
                xs.append(i + (k - (len(agents) - 1) / 2) * width)
                ys.append(100 * match[0].scm[0])
                es.append(0.0 if np.isnan(match[0].scm[1]) else 100 * match[0].scm[1])
        ax.bar(xs, ys, width=width, yerr=es, capsize=2, label=agent)
    ax.set_xticks(range(len(scenarios)))
    ax.set_xticklabels(scenarios, fontsize=8)
    ax.set_ylabel("mean SCM (%)")
    ax.set_title("SLA Compliance Margin by agent and scenario", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    _save(fig, stem)
