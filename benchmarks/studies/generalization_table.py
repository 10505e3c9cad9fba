"""The ``generalization`` preset's table: every agent on each test split.

    twm-bench run --preset generalization --workers 2 --out results/generalization
    python benchmarks/studies/generalization_table.py results/generalization --csv docs/data/generalization.csv
    python benchmarks/studies/generalization_table.py --table docs/data/generalization.csv

The first form summarizes a results folder per (agent, split): the held-out seeds of the training
scenarios, the held-out families, the held-out cities, the paper's four scenarios. Per cell: the
mean SCM (%), the mean utility and the share of episodes violating any SLA (P_g) over the episodes
the agent played, and how many failed (a policy trained for another city's shape cannot play it).
``--csv`` also writes the summary; ``--table`` prints the markdown table of a written summary
(``docs/reference/benchmark.md`` shows that of the shipped one).
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from twm_bench.records import Record
from twm_bench.report import current_records
from twm_gym.scenarios.splits import TEST_SPLITS, evaluation_split

FIELDS = ("agent", "split", "episodes", "failed", "scm_pct", "utility", "p_g")


def summarize(records: list[Record]) -> list[dict[str, str]]:
    """One row per (agent, split), agents in record order, splits in ``TEST_SPLITS`` order."""
    cells: dict[tuple[str, str], list[Record]] = defaultdict(list)
    agents: list[str] = []
    for r in records:
        if r.agent not in agents:
            agents.append(r.agent)
        cells[r.agent, evaluation_split(r.scenario)].append(r)
    rows = []
    for agent in agents:
        for split in TEST_SPLITS:
            recs = cells.get((agent, split), [])
            ok = [r for r in recs if r.error is None]
            row = {"agent": agent, "split": split, "episodes": str(len(ok)), "failed": str(len(recs) - len(ok))}
            if ok:
                row["scm_pct"] = f"{100 * np.mean([r.kpis['scm'] for r in ok]):.1f}"
                row["utility"] = f"{np.mean([r.utility for r in ok]):+.3f}"
                row["p_g"] = f"{np.mean([r.kpis['global_violation'] for r in ok]):.2f}"
            else:
                row.update(scm_pct="", utility="", p_g="")
            rows.append(row)
    return rows


def write_csv(rows: list[dict[str, str]], path: str | Path, fields: tuple[str, ...] = FIELDS) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def markdown(rows: list[dict[str, str]]) -> str:
    """Agents as rows, splits as columns: ``SCM % / utility / P_g`` (or how many episodes failed)."""
    by = {(r["agent"], r["split"]): r for r in rows}
    agents = list(dict.fromkeys(r["agent"] for r in rows))
    lines = [
        "| agent | " + " | ".join(f"{s}: SCM % / U / P_g" for s in TEST_SPLITS) + " |",
        "|---|" + "---|" * len(TEST_SPLITS),
    ]
    for agent in agents:
        cells = [f"`{agent}`"]
        for split in TEST_SPLITS:
            r = by.get((agent, split))
            if r is None or not r["scm_pct"]:
                failed = r["failed"] if r else "0"
                cells.append(f"— ({failed} failed)" if failed != "0" else "—")
                continue
            failed = f" ({r['failed']} failed)" if r["failed"] != "0" else ""
            cells.append(f"{r['scm_pct']} / {r['utility']} / {r['p_g']}{failed}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", nargs="?", help="results folder of a generalization run")
    parser.add_argument("--csv", help="also write the summary here")
    parser.add_argument("--table", help="print the table of a written summary instead")
    args = parser.parse_args()
    if args.table:
        print(markdown(read_csv(args.table)))
        return
    if not args.directory:
        parser.error("give a results folder, or --table SUMMARY.csv")
    rows = summarize(current_records(args.directory)[0])
    if args.csv:
        write_csv(rows, args.csv)
    print(markdown(rows))


if __name__ == "__main__":
    main()
