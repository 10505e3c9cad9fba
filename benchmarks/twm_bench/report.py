"""The benchmark report: tables per scenario and averaged, the Pareto and SCM plots, a header.

    twm-bench report RESULTS_DIR

Writes ``report.md``, ``pareto.png``/``.svg`` (cost-compliance front, as the paper's fig. 6) and
``scm.png``/``.svg`` (SCM by agent and scenario, as fig. 7) into the results directory.
"""

from __future__ import annotations

import json
import platform
from collections import defaultdict
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from twm_bench.metrics import Row, decision_axis, mean_ci
from twm_bench.records import RECORDS_FILE, SPEC_FILE, Record, RecordError, dedupe, load
from twm_gym.core.params import SLICES


def summarize(records: list[Record]) -> list[Row]:
    """One row per (agent, scenario) in first-seen order, then one 'average' row per agent."""
    groups: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for r in records:
        groups[(r.agent, r.scenario)].append(r)
    decision = decision_axis(records)
    rows = []
    for (agent, scenario), recs in groups.items():
        ok = [r for r in recs if r.error is None]
        k = [r.kpis for r in ok]
        d = decision.get((agent, scenario))
        rows.append(
            Row(
                agent=agent,
                scenario=scenario,
                n=len(ok),
                errors=len(recs) - len(ok),
                scm=mean_ci([x["scm"] for x in k]),
                delta_cost=mean_ci([x["delta_cost"] for x in k]),
                p_urllc=_mean([x["violation_urllc"] for x in k]),
                p_fwa=_mean([x["violation_fwa"] for x in k]),
                p_g=_mean([x["global_violation"] for x in k]),
                loss=tuple(_mean([x[f"loss_{s}"] for x in k]) for s in SLICES),  # type: ignore[arg-type]
                d99_ms=float(np.median([x["d99_ms"] for x in k])) if k else float("nan"),
                sim_calls=recs[0].prep_calls + sum(r.sim_calls for r in recs),
                decision_ms=1e3 * (recs[0].prep_s + sum(r.decision_s for r in recs)) / max(len(recs), 1),
                utility=d.utility if d else float("nan"),
                regret=d.regret if d else float("nan"),
                reference=recs[0].reference,
            )
        )
    by_agent: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_agent[row.agent].append(row)
    for agent, agent_rows in by_agent.items():
        rows.append(_average(agent, agent_rows))
    return rows


def _mean(values: list[Any]) -> float:
    return float(np.mean(values)) if values else float("nan")


def _average(agent: str, rows: list[Row]) -> Row:
    def avg(get: Any) -> float:
        values = np.array([get(r) for r in rows], dtype=np.float64)
        values = values[~np.isnan(values)]
        return float(values.mean()) if values.size else float("nan")

    return Row(
        agent=agent,
        scenario="average",
        n=sum(r.n for r in rows),
        errors=sum(r.errors for r in rows),
        scm=(avg(lambda r: r.scm[0]), float("nan")),
        delta_cost=(avg(lambda r: r.delta_cost[0]), float("nan")),
        p_urllc=avg(lambda r: r.p_urllc),
        p_fwa=avg(lambda r: r.p_fwa),
        p_g=avg(lambda r: r.p_g),
        loss=tuple(avg(lambda r, i=i: r.loss[i]) for i in range(3)),  # type: ignore[arg-type]
        d99_ms=avg(lambda r: r.d99_ms),
        sim_calls=round(avg(lambda r: r.sim_calls)),
        decision_ms=avg(lambda r: r.decision_ms),
        utility=avg(lambda r: r.utility),
        regret=avg(lambda r: r.regret),
        reference=rows[0].reference,
    )


def _pm(mean_half: tuple[float, float], scale: float = 100.0) -> str:
    m, h = mean_half
    return f"{scale * m:.1f}" if np.isnan(h) else f"{scale * m:.1f} ± {scale * h:.1f}"


def format_table(rows: list[Row]) -> str:
    """A Markdown table of ``rows`` (percentages for SCM, Δcost, probabilities and loss)."""
    head = (
        "| agent | scenario | n | SCM % | Δcost % | P_urllc | P_fwa | P_g | loss e/u/f % | d99 ms "
        "| sim calls | decision ms | utility | regret |"
    )
    lines = [head, "|" + "---|" * 14]
    for r in rows:
        name = f"{r.agent} (reference)" if r.reference else r.agent
        err = f" ({r.errors} failed)" if r.errors else ""
        loss = "/".join(f"{100 * x:.1f}" for x in r.loss)
        lines.append(
            f"| {name} | {r.scenario} | {r.n}{err} | {_pm(r.scm)} | {_pm(r.delta_cost)} | {r.p_urllc:.2f} "
            f"| {r.p_fwa:.2f} | {r.p_g:.2f} | {loss} | {r.d99_ms:.1f} | {r.sim_calls} | {r.decision_ms:.1f} "
            f"| {r.utility:.3f} | {r.regret:.3f} |"
        )
    return "\n".join(lines)


def gap_closed(rows: list[Row]) -> dict[str, dict[str, float]]:
    """Per agent and scenario, the share of the uniform -> oracle utility gap the agent closes
    (1 = as good as the hindsight oracle, 0 = uniform), plus ``"average"`` over the scenarios."""
    by = {(r.agent, r.scenario): r.utility for r in rows if r.scenario != "average"}
    oracle = {sc: u for (a, sc), u in by.items() if any(r.reference and r.agent == a for r in rows)}
    out: dict[str, dict[str, float]] = {}
    for (agent, sc), u in by.items():
        if sc in oracle and ("uniform", sc) in by and oracle[sc] > by[("uniform", sc)]:
            uni = by[("uniform", sc)]
            out.setdefault(agent, {})[sc] = (u - uni) / (oracle[sc] - uni)
    for per in out.values():
        per["average"] = float(sum(per.values()) / len(per))
    return out


def format_failures(records: list[Record]) -> str:
    """Markdown list of the episodes that failed (left out of every mean above), one line each."""
    failed = [r for r in records if r.error is not None]
    if not failed:
        return ""
    lines = [f"{len(failed)} failed episodes, left out of the means above (n counts the others):", ""]
    for r in failed[:50]:
        first = r.error.splitlines()[0] if r.error else ""
        lines.append(f"- `{r.agent}` on {r.scenario}, seed {r.seed}: {first[:200]}")
    if len(failed) > 50:
        lines.append(f"- ... and {len(failed) - 50} more (records.jsonl has every error)")
    return "\n".join(lines)


def format_gap(rows: list[Row]) -> str:
    """Markdown table of :func:`gap_closed` (empty without uniform and oracle in the run)."""
    gaps = gap_closed(rows)
    if not gaps:
        return ""
    scenarios = sorted({sc for per in gaps.values() for sc in per if sc != "average"})
    lines = [
        "Share of the uniform -> oracle utility gap closed (1 = hindsight oracle, 0 = uniform):",
        "",
        "| agent | " + " | ".join(scenarios) + " | average |",
        "|" + "---|" * (len(scenarios) + 2),
    ]
    for agent, per in gaps.items():
        if agent in ("uniform",) or any(r.reference and r.agent == agent for r in rows):
            continue
        cells = " | ".join(f"{100 * per[sc]:.0f} %" if sc in per else "-" for sc in scenarios)
        lines.append(f"| {agent} | {cells} | {100 * per['average']:.0f} % |")
    return "\n".join(lines)


def format_latency(records: list[Record]) -> str:
    """Markdown table of the per-decision timings agents report (``Agent.metrics``), ms."""
    keys = ("phase1_ms", "verify_ms", "phase2_ms")
    by: dict[str, list[dict[str, float]]] = {}
    for r in records:
        if any(k in r.metrics for k in keys):
            by.setdefault(r.agent, []).append(r.metrics)
    if not by:
        return ""
    lines = [
        "Decision latency per decision (mean over episodes, ms, this machine's CPU): Phase 1 once per "
        "horizon (surrogates, prescreen, ranking), its simulator verification, Phase 2 per later step.",
        "",
        "| agent | Phase 1 ms | verification ms | Phase 2 ms | interventions per episode |",
        "|---|---|---|---|---|",
    ]
    for agent, ms in by.items():
        cell = [f"{_mean([m[k] for m in ms if k in m]):.1f}" if any(k in m for m in ms) else "-" for k in keys]
        inter = _mean([m.get("interventions", 0.0) for m in ms])
        lines.append(f"| {agent} | {' | '.join(cell)} | {inter:.2f} |")
    return "\n".join(lines)


def _header(directory: Path) -> str:
    spec_path = directory / SPEC_FILE
    spec = json.loads(spec_path.read_text()) if spec_path.exists() else {}
    versions = ", ".join(f"{pkg} {version(pkg)}" for pkg in ("twm-gym", "numpy", "gymnasium") if _installed(pkg))
    return "\n".join(
        [
            "# twm-bench report",
            "",
            f"Made by `twm-bench report {directory}` with {versions}, Python {platform.python_version()}.",
            f"Protocol: preset `{spec.get('preset', '?')}`, agents {spec.get('agents')}, scenarios "
            f"{spec.get('scenarios')}, {len(spec.get('seeds', []))} seeds per scenario, budget "
            f"{spec.get('calls')} simulator calls per agent and scenario; config hash `{spec.get('config_hash')}`.",
            "Means with 95 % Student-t intervals over seeds; P_* are violation frequencies; the oracle is",
            "the hindsight-best library policy on the true seed (a reference for regret, not a competitor).",
        ]
    )


def _installed(pkg: str) -> bool:
    try:
        version(pkg)
    except Exception:
        return False
    return True


def current_records(directory: str | Path) -> tuple[list[Record], list[Record]]:
    """The records of ``directory`` made under its ``spec.json``'s configuration, and the others.

    A results folder reused with another configuration holds records of both; the report is of the
    current one (all records when there is no spec, or when none matches it).

    Raises:
        RecordError: no records file, or no complete record in it.
    """
    d = Path(directory)
    path = d / RECORDS_FILE
    if not path.exists():
        raise RecordError(f"{path}: no records file (run `twm-bench run --out {d}` first)")
    records, _ = dedupe(load(path))
    if not records:
        raise RecordError(f"{path}: no complete records")
    spec_path = d / SPEC_FILE
    config = json.loads(spec_path.read_text()).get("config_hash") if spec_path.exists() else None
    mine = [r for r in records if r.config_hash == config]
    if not mine:
        return records, []
    return mine, [r for r in records if r.config_hash != config]


def write_report(directory: str | Path) -> Path:
    """Write ``report.md`` and the two plots for the records in ``directory``; returns the report path.

    Raises:
        RecordError: no records file, or a malformed one.
    """
    d = Path(directory)
    records, others = current_records(d)
    rows = summarize(records)
    from twm_bench.plots import pareto_plot, scm_plot

    pareto_plot(rows, d / "pareto")
    scm_plot(rows, d / "scm")
    note = (
        f"{len(others)} records of other run configurations in {RECORDS_FILE} are left out (config hash "
        f"other than `{records[0].config_hash}`)."
        if others
        else ""
    )
    _, duplicates = dedupe(load(d / RECORDS_FILE))
    if duplicates:
        note += f" {duplicates} duplicate records (a key recorded twice) are left out; the first of each counts."
    parts = [_header(d), note.strip(), format_table(rows), format_failures(records), format_gap(rows)]
    parts.append(format_latency(records))
    parts += ["![cost-compliance Pareto front](pareto.png)", "![SCM by agent](scm.png)"]
    text = "\n\n".join(p for p in parts if p)
    out = d / "report.md"
    out.write_text(text + "\n")
    return out
