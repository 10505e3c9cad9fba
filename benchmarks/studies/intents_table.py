"""The ``intents`` preset's tables: every agent per intent kind, and every test phrasing's compilation and score.

    twm-bench run --preset intents --workers 2 --out results/intents
    python benchmarks/studies/intents_table.py results/intents --csv docs/data/intents_kinds.csv \
        --phrasings-csv docs/data/intents.csv
    python benchmarks/studies/intents_table.py --table docs/data/intents_kinds.csv

The first form prints (1) the mean intent-score (± one standard error) of every agent per intent
kind and over all episodes, (2) per test phrasing: whether the embedded compiler gives the
authored spec exactly, and the mean scores of ``A`` and ``B`` (``--pair``, default ``twm
twm-no-llm``) with their paired difference, and (3) that paired difference over every episode.
``--csv`` writes (1) and ``--phrasings-csv`` (2); ``--table`` prints the markdown of a written (1)
(``docs/explanation/intents.md`` shows that of the shipped one). Episodes of one (scenario, seed) share their
exogenous world across agents and intents.
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

KIND_FIELDS = ("agent", "kind", "episodes", "mean", "se")
PHRASING_FIELDS = ("intent", "kind", "text", "compiled_exactly", "episodes", "a", "b", "a_minus_b", "se")
ALL = "all"


def _se(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")


def _kind(episode: str) -> str:
    return episode.split("@")[1].split(".")[0]


def scores(directory: str | Path) -> dict[str, dict[tuple[str, int], float]]:
    """Intent-score per agent and (intent episode, seed), from a results folder."""
    out: dict[str, dict[tuple[str, int], float]] = defaultdict(dict)
    for r in current_records(directory)[0]:
        if r.error is None and r.utility is not None and "@" in r.scenario:
            out[r.agent][(r.scenario, r.seed)] = r.utility
    return out


def by_kind(score: dict[str, dict[tuple[str, int], float]]) -> list[dict[str, str]]:
    """One row per (agent, kind) and per agent over every kind (``all``)."""
    rows = []
    for agent, episodes in score.items():
        groups: dict[str, list[float]] = defaultdict(list)
        for key, u in episodes.items():
            groups[_kind(key[0])].append(u)
            groups[ALL].append(u)
        for kind in [*sorted(k for k in groups if k != ALL), ALL]:
            x = np.array(groups[kind])
            mean, se = f"{x.mean():+.3f}", f"{_se(x):.3f}"
            rows.append({"agent": agent, "kind": kind, "episodes": str(len(x)), "mean": mean, "se": se})
    return rows


def markdown(rows: list[dict[str, str]]) -> str:
    """Intent kinds as rows, agents as columns: mean intent-score ± one standard error."""
    agents = list(dict.fromkeys(r["agent"] for r in rows))
    kinds = list(dict.fromkeys(r["kind"] for r in rows))
    cell = {(r["agent"], r["kind"]): f"{r['mean']} ± {r['se']}" for r in rows}
    lines = ["| intent kind | " + " | ".join(f"`{a}`" for a in agents) + " |", "|---|" + "---|" * len(agents)]
    for kind in kinds:
        lines.append(f"| {kind} | " + " | ".join(cell.get((a, kind), "—") for a in agents) + " |")
    return "\n".join(lines)


def by_phrasing(score: dict[str, dict[tuple[str, int], float]], a: str, b: str) -> list[dict[str, str]]:
    """Per intent episode: whether the embedded compiler reads the phrasing exactly, and ``a`` vs ``b``."""
    episodes: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for key in score[a]:
        episodes[key[0]].append(key)
    rows = []
    for name in sorted(episodes):
        scenario, intent = load_target(name)
        assert intent is not None
        compiled = compile_with(intent.text, scenario)
        keys = [k for k in episodes[name] if k in score[b]]
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
    return rows


def _write(rows: list[dict[str, str]], fields: tuple[str, ...], path: str | Path) -> None:
    with Path(path).open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: str | Path) -> list[dict[str, str]]:
    with Path(path).open(newline="") as f:
        return list(csv.DictReader(f))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="?", help="a results folder of the intents preset")
    parser.add_argument("--pair", nargs=2, default=("twm", "twm-no-llm"), metavar=("A", "B"))
    parser.add_argument("--csv", help="write the per-kind summary here")
    parser.add_argument("--phrasings-csv", help="write the per-phrasing rows here")
    parser.add_argument("--table", help="print the markdown of a written per-kind summary instead")
    args = parser.parse_args(argv)
    if args.table:
        print(markdown(read_csv(args.table)))
        return 0
    if not args.results:
        parser.error("give a results folder, or --table SUMMARY.csv")
    score = scores(args.results)
    kinds = by_kind(score)
    print(markdown(kinds))
    a, b = args.pair
    phrasings = by_phrasing(score, a, b)
    print(f"\n| episode | compiled exactly | {a} | {b} | {a} - {b} |\n|---|---|---|---|---|")
    for row in phrasings:
        print(
            f"| {row['intent']} | {'yes' if row['compiled_exactly'] == 'True' else 'no'} | {float(row['a']):+.3f} | "
            f"{float(row['b']):+.3f} | {float(row['a_minus_b']):+.3f} ± {float(row['se']):.3f} |"
        )
    keys = [k for k in score[a] if k in score[b]]
    d = np.array([score[a][k] - score[b][k] for k in keys])
    exact = np.mean([row["compiled_exactly"] == "True" for row in phrasings])
    print(f"\n{a} - {b} over {len(d)} paired episodes: {d.mean():+.3f} ± {_se(d):.3f} (one SE)")
    print(f"episodes whose phrasing the embedded compiler reads exactly: {exact:.1%}")
    if args.csv:
        _write(kinds, KIND_FIELDS, args.csv)
    if args.phrasings_csv:
        _write(phrasings, PHRASING_FIELDS, args.phrasings_csv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
