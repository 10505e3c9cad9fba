"""The paper's comparison beside ours: every agent of the ``paper`` preset, averaged over its four scenarios.

    twm-bench run --preset paper --workers 2 --out results/paper
    python benchmarks/studies/paper_table.py results/paper --csv docs/data/paper.csv
    python benchmarks/studies/paper_table.py --table docs/data/paper.csv
    python benchmarks/studies/paper_table.py --table docs/data/paper.csv --per-scenario ppo ippo uniform

Per agent, over the episodes it played: mean SCM and Δcost against uniform (%), the share of
episodes violating any SLA (P_g), mean utility, and the share of the uniform -> oracle utility gap
it closes (per scenario, then averaged), and its mean utility per scenario (``--per-scenario``
prints those for the agents named). The paper's own figures (section X-C, figs. 6-7: SCM in %
and the sign of the cost change) stand beside ours where the paper reports the agent.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from generalization_table import read_csv, write_csv
from twm_bench.records import Record
from twm_bench.report import current_records

FIELDS = ("agent", "episodes", "scm_pct", "delta_cost_pct", "p_g", "utility", "gap_closed")
SCENARIO_PREFIX = "u:"
"""Per-scenario mean utility columns: ``u:hotspot-id``, ..."""
PAPER_FIGURES = {
    "twm": ("45", "7–8"),
    "cdwm-only": ("0", "—"),
    "fwm-only": ("18", "no saving"),
    "dt-fair": ("4.5", "saving"),
    "llm": ("0", "—"),
    "uniform": ("—", "0"),
}
"""The paper's SCM (%) and cost change per agent it reports (section X-C, figs. 6-7)."""
NOTES = {"oracle": "reference", "ppo": "learned", "ippo": "learned"}


def summarize(records: list[Record]) -> list[dict[str, str]]:
    """One row per agent, in record order."""
    by: dict[str, list[Record]] = defaultdict(list)
    utility: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in records:
        if r.error is None and r.utility is not None:
            by[r.agent].append(r)
            utility[r.agent, r.scenario].append(float(r.utility))
    scenarios = sorted({s for _, s in utility})
    rows = []
    for agent, recs in by.items():
        gaps = []
        for s in scenarios:
            lo, hi, mine = utility.get(("uniform", s)), utility.get(("oracle", s)), utility.get((agent, s))
            if lo and hi and mine and np.mean(hi) > np.mean(lo):
                gaps.append((np.mean(mine) - np.mean(lo)) / (np.mean(hi) - np.mean(lo)))
        rows.append(
            {
                "agent": agent,
                "episodes": str(len(recs)),
                "scm_pct": f"{100 * np.mean([r.kpis['scm'] for r in recs]):.1f}",
                "delta_cost_pct": f"{100 * np.mean([r.kpis['delta_cost'] for r in recs]):.1f}",
                "p_g": f"{np.mean([r.kpis['global_violation'] for r in recs]):.2f}",
                "utility": f"{np.mean([r.utility for r in recs]):+.3f}",
                "gap_closed": f"{np.mean(gaps):.2f}" if gaps else "",
                **{
                    f"{SCENARIO_PREFIX}{sc}": f"{np.mean(utility[agent, sc]):+.3f}"
                    for sc in scenarios
                    if utility.get((agent, sc))
                },
            }
        )
    return rows


def per_scenario(rows: list[dict[str, str]], agents: list[str]) -> str:
    """Mean utility per scenario and on average, with SCM, Δcost, P_g and gap closed, for ``agents``."""
    scenarios = [k[len(SCENARIO_PREFIX) :] for k in rows[0] if k.startswith(SCENARIO_PREFIX)]
    by = {r["agent"]: r for r in rows}
    missing = [a for a in agents if a not in by]
    if missing:
        raise SystemExit(f"--per-scenario: {missing} not in the summary; valid: {sorted(by)}")
    lines = [
        "| agent | " + " | ".join(scenarios) + " | average U | SCM % | Δcost % | P_g | gap closed |",
        "|---|" + "---|" * (len(scenarios) + 5),
    ]
    for agent in agents:
        r = by[agent]
        cells = [r.get(f"{SCENARIO_PREFIX}{sc}", "") for sc in scenarios]
        gap = f"{100 * float(r['gap_closed']):.0f} %" if r["gap_closed"] else ""
        cells += [r["utility"], r["scm_pct"], r["delta_cost_pct"], r["p_g"], gap]
        lines.append(f"| `{agent}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(rows: list[dict[str, str]]) -> str:
    """Our figures beside the paper's, best utility in bold among the competitors (not the oracle)."""
    competitors = [r for r in rows if r["agent"] != "oracle"]
    best = max(competitors, key=lambda r: float(r["utility"]))["agent"] if competitors else ""
    lines = [
        "| agent | SCM (paper) | SCM (ours) | Δcost (paper) | Δcost (ours) | P_g (ours) | utility (ours) "
        "| gap closed (ours) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        paper = PAPER_FIGURES.get(r["agent"])
        note = NOTES.get(r["agent"], "ours only" if paper is None else "")
        name = f"`{r['agent']}`" + (f" ({note})" if note else "")
        scm_p, cost_p = paper or ("—", "—")
        utility = f"**{r['utility']}**" if r["agent"] == best else r["utility"]
        gap = f"{100 * float(r['gap_closed']):.0f} %" if r["gap_closed"] else ""
        cells = [name, scm_p, r["scm_pct"], cost_p, r["delta_cost_pct"], r["p_g"], utility, gap]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", help="a results folder of the paper preset")
    parser.add_argument("--csv", type=Path, help="write the summary here")
    parser.add_argument("--table", type=Path, help="print the markdown of a written summary")
    parser.add_argument("--per-scenario", nargs="+", metavar="AGENT", help="with --table: utility per scenario")
    args = parser.parse_args()
    if args.table:
        rows = read_csv(args.table)
        print(per_scenario(rows, args.per_scenario) if args.per_scenario else markdown(rows))
        return
    if not args.results:
        parser.error("give a results folder, or --table CSV")
    rows = summarize(current_records(args.results)[0])
    if args.csv:
        write_csv(rows, args.csv, tuple(dict.fromkeys(k for r in rows for k in (*FIELDS, *r))))
    print(markdown(rows))


if __name__ == "__main__":
    main()
