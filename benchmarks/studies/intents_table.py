"""The ``intents`` preset's tables: every agent per intent kind, and every test phrasing's compilation and score.

    twm-bench run --preset intents --workers 2 --out results/intents
    python benchmarks/studies/intents_table.py results/intents --csv docs/data/intents.csv

Prints (1) the mean intent-score (± one standard error) of every agent per intent kind and over
all episodes, (2) per test phrasing: whether the embedded compiler gives the authored spec
exactly, and the mean scores of ``twm`` and ``twm-no-llm`` with their paired difference, and (3)
the paired difference ``A - B`` over every episode (``--pair A B``, default ``twm twm-no-llm``).
Episodes of one (scenario, seed) share their exogenous world across agents and intents.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from twm_agents.llm.backends import compile_with
from twm_bench.report import current_records
from twm_gym.intents import load_target

FIELDS = ("intent", "kind", "text", "compiled_exactly", "episodes", "a", "b", "a_minus_b", "se")


def _se(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", help="a results folder of the intents preset")
    parser.add_argument("--pair", nargs=2, default=("twm", "twm-no-llm"), metavar=("A", "B"))
    parser.add_argument("--csv", help="write the per-phrasing rows here")
    args = parser.parse_args(argv)
    records, _ = current_records(args.results)
    score: dict[str, dict[tuple[str, int], float]] = defaultdict(dict)
    for r in records:
        if r.error is None and r.utility is not None and "@" in r.scenario:
            score[r.agent][(r.scenario, r.seed)] = r.utility
    agents = list(score)
    kinds: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for key in score[agents[0]]:
        kinds[key[0].split("@")[1].split(".")[0]].append(key)

    print("| intent kind | " + " | ".join(agents) + " |")
    print("|---|" + "---|" * len(agents))
    for kind, keys in [*sorted(kinds.items()), ("all", [k for ks in kinds.values() for k in ks])]:
        cells = []
        for a in agents:
            x = np.array([score[a][k] for k in keys if k in score[a]])
            cells.append(f"{x.mean():+.3f} ± {_se(x):.3f}")
        print(f"| {kind} | " + " | ".join(cells) + " |")

    a, b = args.pair
    rows = []
    by_intent: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for key in score[a]:
        by_intent[key[0]].append(key)
    for name in sorted(by_intent):
        scenario, intent = load_target(name)
        assert intent is not None
        compiled = compile_with(intent.text, scenario)
        keys = [k for k in by_intent[name] if k in score[b]]
        xa, xb = np.array([score[a][k] for k in keys]), np.array([score[b][k] for k in keys])
        rows.append(
            {
                "intent": name,
                "kind": intent.kind,
                "text": intent.text,
                "compiled_exactly": str(compiled.spec == intent.spec),
                "episodes": str(len(keys)),
                "a": f"{xa.mean():.4f}",
                "b": f"{xb.mean():.4f}",
                "a_minus_b": f"{(xa - xb).mean():.4f}",
                "se": f"{_se(xa - xb):.4f}",
            }
        )
    print(f"\n| episode | compiled exactly | {a} | {b} | {a} - {b} |\n|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['intent']} | {'yes' if row['compiled_exactly'] == 'True' else 'no'} | {float(row['a']):+.3f} | "
            f"{float(row['b']):+.3f} | {float(row['a_minus_b']):+.3f} ± {float(row['se']):.3f} |"
        )
    keys = [k for k in score[a] if k in score[b]]
    d = np.array([score[a][k] - score[b][k] for k in keys])
    exact = np.mean([row["compiled_exactly"] == "True" for row in rows])
    print(f"\n{a} - {b} over {len(d)} paired episodes: {d.mean():+.3f} ± {_se(d):.3f} (one SE)")
    print(f"episodes whose phrasing the embedded compiler reads exactly: {exact:.1%}")
    if args.csv:
        with Path(args.csv).open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
