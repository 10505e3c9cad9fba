"""``twm-bench``: the project's command line. Thin: parsing and printing only.

Sub-commands so far: ``list`` (scenarios) and ``twin`` (the twin's KPI table on the scenarios).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from twm_gym.scenarios import ScenarioError, list_scenarios, load_scenario

PAPER_SCENARIOS = ("hotspot-id", "hotspot-ood", "wave-id", "wave-ood")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="twm-bench", description="Telecom World Models benchmark.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the registered scenarios")
    twin = sub.add_parser("twin", help="KPI table of reference library policies on the twin")
    twin.add_argument("--scenarios", nargs="+", default=list(PAPER_SCENARIOS), help="scenario names")
    twin.add_argument("--seeds", type=int, default=32, help="exogenous seeds per scenario (default 32)")
    twin.add_argument("--seed0", type=int, default=0, help="first seed (default 0)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            print("scenarios: " + ", ".join(list_scenarios()))
            return 0
        if args.command == "twin":
            if args.seeds < 1:
                print("twm-bench: error: --seeds must be >= 1", file=sys.stderr)
                return 2
            from benchmarks.twin_table import format_table, twin_table

            for name in args.scenarios:  # fail fast, before any simulation, on a bad name
                load_scenario(name)
            rows, rate = twin_table(list(args.scenarios), args.seeds, args.seed0)
            print(format_table(rows))
            print(f"\n{args.seeds} seeds x 256 library candidates per scenario; twin throughput {rate:,.0f} rollouts/s")
            return 0
    except ScenarioError as exc:
        print(f"twm-bench: error: {exc}", file=sys.stderr)
        return 2
    return 1  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
