"""Which layer earns its place where: ``twm`` against each single-world agent, ablation and baseline,
paired episode by episode, per test split, from the records of runs already made.

    twm-bench run --preset generalization --workers 2 --out results/generalization
    twm-bench run --preset ablation --workers 2 --out results/ablation
    python benchmarks/studies/layers_table.py results/generalization results/ablation --csv docs/data/layers.csv
    python benchmarks/studies/layers_table.py --table docs/data/layers.csv

Per split (``twm_gym.scenarios.splits.evaluation_split``: held-out seeds, families, cities, the paper's four) and
per agent ``X`` played on the same episodes as ``twm`` (same scenario and seed: the harness gives
every agent the same exogenous world and random numbers), the mean of ``U(twm) - U(X)`` with one
standard error over the paired episodes, how many pairs, and the share of the uniform -> oracle
utility gap each agent closes on that split (its mean utility against theirs). A folder of the
``paper`` or ``ablation`` preset adds the paper's four scenarios on its 32 seeds (a split of its
own: ``paper-preset``). Episodes an agent could not play (an error record) are left out of its pairs.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from generalization_table import read_csv, write_csv
from twm_bench.records import Record
from twm_bench.report import current_records
from twm_gym.scenarios.splits import evaluation_split

FIELDS = ("agent", "split", "pairs", "diff", "se", "gap_closed")
REFERENCE = "twm"


def _split(record: Record, folder_preset: str) -> str:
    return "paper-preset" if folder_preset in ("paper", "ablation") else evaluation_split(record.scenario)


def summarize(runs: list[tuple[str, list[Record]]], reference: str = REFERENCE) -> list[dict[str, str]]:
    """One row per (agent, split): ``reference - agent`` paired, and the agent's share of the gap closed."""
    utility: dict[tuple[str, str], dict[tuple[str, int], float]] = defaultdict(dict)
    agents: list[str] = []
    splits: list[str] = []
    for folder_preset, records in runs:
        for r in records:
            if r.error is not None or r.utility is None:
                continue
            split = _split(r, folder_preset)
            if r.agent not in agents:
                agents.append(r.agent)
            if split not in splits:
                splits.append(split)
            utility[r.agent, split][r.scenario, r.seed] = float(r.utility)
    rows = []
    for split in splits:
        mine = utility.get((reference, split), {})
        base, top = utility.get(("uniform", split)), utility.get(("oracle", split))
        for agent in agents:
            theirs = utility.get((agent, split))
            if not theirs or agent in ("oracle",):
                continue
            keys = sorted(set(mine) & set(theirs))
            row = {"agent": agent, "split": split, "pairs": str(len(keys)), "diff": "", "se": "", "gap_closed": ""}
            if keys and agent != reference:
                d = np.array([mine[k] - theirs[k] for k in keys])
                row["diff"] = f"{d.mean():+.3f}"
                row["se"] = f"{d.std(ddof=1) / np.sqrt(len(d)):.3f}" if len(d) > 1 else ""
            if base and top:
                lo, hi = np.mean(list(base.values())), np.mean(list(top.values()))
                if hi > lo:
                    row["gap_closed"] = f"{(np.mean(list(theirs.values())) - lo) / (hi - lo):.2f}"
            rows.append(row)
    return rows


def markdown(rows: list[dict[str, str]]) -> str:
    """Agents as rows, splits as columns: ``twm - X ± SE (gap closed by X)``."""
    by = {(r["agent"], r["split"]): r for r in rows}
    agents = list(dict.fromkeys(r["agent"] for r in rows))
    splits = list(dict.fromkeys(r["split"] for r in rows))
    lines = [
        "| X | " + " | ".join(f"{s}: twm − X (gap closed by X)" for s in splits) + " |",
        "|---|" + "---|" * len(splits),
    ]
    for agent in agents:
        cells = [f"`{agent}`"]
        for split in splits:
            r = by.get((agent, split))
            if r is None:
                cells.append("—")
                continue
            gap = f" ({float(r['gap_closed']):.0%})" if r["gap_closed"] else ""
            diff = f"{r['diff']} ± {r['se']}" if r["diff"] else "·"
            cells.append((diff + gap).replace("-", "−"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directories", nargs="*", help="results folders (generalization, paper or ablation runs)")
    parser.add_argument("--csv", help="also write the summary here")
    parser.add_argument("--table", help="print the table of a written summary instead")
    args = parser.parse_args()
    if args.table:
        print(markdown(read_csv(args.table)))
        return
    if not args.directories:
        parser.error("give results folders, or --table SUMMARY.csv")
    runs = []
    for folder in args.directories:
        records, _ = current_records(folder)
        spec = Path(folder) / "spec.json"
        preset = json.loads(spec.read_text()).get("preset", "") if spec.exists() else ""
        runs.append((str(preset or ""), records))
    rows = summarize(runs)
    if args.csv:
        write_csv(rows, args.csv, FIELDS)
    print(markdown(rows))


if __name__ == "__main__":
    main()
