"""Paired comparison of two agents, episode by episode: does a change help, and by how much?

    python benchmarks/studies/paired.py twm twm --b lock_in=false --seeds 100:164 [--workers 2]
    python benchmarks/studies/paired.py twm twm-raw --seeds 164:228
    python benchmarks/studies/paired.py twm-no-trim twm --b trims=0.9,0.8,0.7 --seeds 100:228

Both agents play every episode as the benchmark plays it (``twm_bench.runner.run_unit``: one unit
per scenario, 12 simulator calls per seed, the same random numbers for every agent in an episode),
so a difference comes from the change alone and ``--seeds 0:32`` gives the paper preset's records.

Prints per scenario the mean utility of both, the paired difference ``B - A`` +- one standard
error in utility and in gap-closed units (the uniform -> hindsight-oracle gap on the same seeds),
and both agents' SCM (with its paired difference), Δcost and violation rate; ``--scenarios`` plays
others (any scenario name or file) and ``--splits`` every scenario of a split (test splits are
for reporting, never for choosing). On the paper's scenarios use seeds the paper preset does not
(it plays 0-31): choose on one range, confirm on another.
"""

from __future__ import annotations

import argparse
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from twm_agents.registry import make_agent
from twm_bench.runner import one_thread_per_process, run_unit
from twm_bench.spec import CALLS_PER_HORIZON, PAPER_SCENARIOS
from twm_gym.scenarios import load_scenario
from twm_gym.scenarios.splits import SPLIT_NAMES, split_scenarios

Job = tuple[str, dict[str, Any], str, list[int]]


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``["k=v", ...]`` -> options; ``true``/``false``, integers and floats are converted, and a
    comma-separated value is a tuple of them (``trims=0.9,0.8``)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"option {pair!r}: expected key=value")
        out[key] = tuple(_scalar(x) for x in raw.split(",")) if "," in raw else _scalar(raw)
    return out


def _scalar(raw: str) -> Any:
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def parse_seeds(text: str) -> list[int]:
    """``"100:164"`` (a half-open range) or ``"1,5,9"``."""
    try:
        if ":" in text:
            lo, hi = (int(x) for x in text.split(":"))
            seeds = list(range(lo, hi))
        else:
            seeds = [int(x) for x in text.split(",")]
    except ValueError:
        raise ValueError(f"--seeds {text!r}: expected LO:HI or a comma-separated list of integers") from None
    if not seeds:
        raise ValueError(f"--seeds {text!r}: no seed")
    return seeds


def _play(job: Job) -> tuple[str, str, list[dict[str, Any]]]:
    """Every seed of one (agent, scenario), as the benchmark plays them."""
    spec, options, scenario, seeds = job
    agent = make_agent(spec, **options)
    rows = []
    for record in run_unit(spec, scenario, seeds, CALLS_PER_HORIZON * len(seeds), 0, "paired", agent=agent):
        if record.error is not None:
            raise RuntimeError(f"{spec} on {scenario} seed {record.seed}: {record.error}")
        rows.append({"utility": record.utility, **{k: record.kpis[k] for k in ("scm", "delta_cost")}})
        rows[-1]["violation"] = float(record.kpis["global_violation"])
    return spec, scenario, rows


def compare(
    a: str,
    b: str,
    a_options: dict[str, Any],
    b_options: dict[str, Any],
    seeds: list[int],
    workers: int,
    scenarios: tuple[str, ...] = PAPER_SCENARIOS,
) -> dict[str, dict[str, float]]:
    """Per scenario: both agents' means and the paired difference ``B - A`` (utility and gap closed)."""
    jobs: list[Job] = []
    for scenario in scenarios:
        for spec, options in ((a, a_options), (b, b_options), ("uniform", {}), ("oracle", {})):
            jobs.append((spec, options, scenario, seeds))
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=one_thread_per_process) as pool:
        played = list(pool.map(_play, jobs))
    table: dict[str, dict[str, float]] = {}
    for i, scenario in enumerate(scenarios):
        ra, rb, uni, ora = (played[4 * i + k][2] for k in range(4))

        def col(rows: list[dict[str, Any]], key: str) -> np.ndarray:
            return np.array([r[key] for r in rows], dtype=np.float64)

        gap = col(ora, "utility").mean() - col(uni, "utility").mean()
        d = col(rb, "utility") - col(ra, "utility")
        se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
        d_scm = col(rb, "scm") - col(ra, "scm")
        table[scenario] = {
            "utility_a": col(ra, "utility").mean(),
            "utility_b": col(rb, "utility").mean(),
            "diff": d.mean(),
            "diff_se": se,
            "gap_diff": d.mean() / gap,
            "gap_diff_se": se / gap,
            "scm_diff": d_scm.mean(),
            "scm_diff_se": d_scm.std(ddof=1) / np.sqrt(len(d_scm)) if len(d_scm) > 1 else float("nan"),
            "closed_a": (col(ra, "utility").mean() - col(uni, "utility").mean()) / gap,
            "closed_b": (col(rb, "utility").mean() - col(uni, "utility").mean()) / gap,
            **{
                f"{k}_{x}": col(r, k).mean()
                for k in ("scm", "delta_cost", "violation")
                for x, r in (("a", ra), ("b", rb))
            },
            "same": float(np.isclose(col(ra, "utility"), col(rb, "utility")).sum()),
        }
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", help="agent A (the reference): a spec as twm-bench takes it")
    parser.add_argument("b", help="agent B (the change)")
    parser.add_argument("--a", dest="a_options", nargs="*", default=[], metavar="KEY=VALUE", help="A's options")
    parser.add_argument("--b", dest="b_options", nargs="*", default=[], metavar="KEY=VALUE", help="B's options")
    parser.add_argument("--seeds", default="100:164", help="LO:HI or a list (default 100:164, not the paper's)")
    parser.add_argument(
        "--scenarios",
        nargs="+",
        default=[],
        metavar="SCENARIO",
        help=f"scenario names or files to play (default, with no --splits: {', '.join(PAPER_SCENARIOS)})",
    )
    parser.add_argument(
        "--splits", nargs="+", default=[], choices=SPLIT_NAMES, help="also play every scenario of these splits"
    )
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    a_opts, b_opts = parse_options(args.a_options), parse_options(args.b_options)
    scenarios = [*args.scenarios, *(n for split in args.splits for n in split_scenarios(split))]
    for name in scenarios:
        load_scenario(name)  # an unknown name fails here, with the valid ones
    table = compare(args.a, args.b, a_opts, b_opts, seeds, args.workers, tuple(scenarios or PAPER_SCENARIOS))
    print(f"A = {args.a} {a_opts or ''}, B = {args.b} {b_opts or ''}; seeds {args.seeds} ({len(seeds)} per scenario)")
    head = ("scenario", "utility A / B", "B − A", "gap closed A / B", "B − A (gap)", "SCM % A / B", "B − A (SCM %)")
    print("| " + " | ".join([*head, "Δcost % A / B", "P_g A / B"]) + " |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = list(table.items())
    for scenario, r in rows:
        print(
            f"| {scenario} | {r['utility_a']:+.3f} / {r['utility_b']:+.3f} | {r['diff']:+.3f} ± {r['diff_se']:.3f} "
            f"| {r['closed_a']:.0%} / {r['closed_b']:.0%} | {r['gap_diff']:+.3f} ± {r['gap_diff_se']:.3f} "
            f"| {100 * r['scm_a']:.1f} / {100 * r['scm_b']:.1f} "
            f"| {100 * r['scm_diff']:+.1f} ± {100 * r['scm_diff_se']:.1f} "
            f"| {100 * r['delta_cost_a']:+.1f} / {100 * r['delta_cost_b']:+.1f} "
            f"| {r['violation_a']:.2f} / {r['violation_b']:.2f} |"
        )

    def avg(key: str) -> float:
        return float(np.mean([r[key] for _, r in rows]))

    se = float(np.sqrt(np.sum([r["gap_diff_se"] ** 2 for _, r in rows]))) / len(rows)
    se_u = float(np.sqrt(np.sum([r["diff_se"] ** 2 for _, r in rows]))) / len(rows)
    se_scm = float(np.sqrt(np.sum([r["scm_diff_se"] ** 2 for _, r in rows]))) / len(rows)
    print(
        f"| average | {avg('utility_a'):+.3f} / {avg('utility_b'):+.3f} | {avg('diff'):+.3f} ± {se_u:.3f} "
        f"| {avg('closed_a'):.0%} / {avg('closed_b'):.0%} | {avg('gap_diff'):+.3f} ± {se:.3f} "
        f"| {100 * avg('scm_a'):.1f} / {100 * avg('scm_b'):.1f} | {100 * avg('scm_diff'):+.1f} ± {100 * se_scm:.1f} "
        f"| {100 * avg('delta_cost_a'):+.1f} / {100 * avg('delta_cost_b'):+.1f} "
        f"| {avg('violation_a'):.2f} / {avg('violation_b'):.2f} |"
    )
    print(f"episodes with equal utility: {sum(int(r['same']) for _, r in rows)} of {len(rows) * len(seeds)}")


if __name__ == "__main__":
    main()
