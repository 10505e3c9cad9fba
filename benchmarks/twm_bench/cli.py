"""``twm-bench``: the project's command line. Thin: parsing and printing only.

* ``list``: agents and scenarios;
* ``run``: agents x scenarios x seeds (``--preset quick|paper|ablation|generalization|intents``), records + report
  into ``--out``;
* ``report DIR``: the table and plots of a results directory;
* ``twin``: the twin's KPI table of reference library policies;
* ``train fwm|cdwm``: train the Field or the Control/Dynamics World Model (``--config
  default|tiny``, ``--set key=value``);
* ``axis field|trajectory``: the field-accuracy axis of an FWM checkpoint, or the
  trajectory-accuracy axis (and ranking quality) of a CDWM checkpoint;
* ``leaderboard``: the three axes for the shipped and plug-in world models and agents, one table
  and figures (``--preset quick|full``; ``--table FILE`` prints a written leaderboard);
* ``scenarios schema|check|generate|list``: the JSON Schema of a scenario file; load files and say
  what is wrong; draw a city; list a split.

Exit codes: 0 success, 2 bad input (unknown agent, scenario or preset, malformed results).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twm_bench.records import RecordError
from twm_bench.spec import (
    PAPER_SCENARIOS,
    SpecError,
)
from twm_gym.scenarios import ScenarioError, list_scenarios, load_scenario
from twm_gym.scenarios.splits import SPLIT_NAMES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="twm-bench", description="Telecom World Models benchmark.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the available agents and the registered scenarios")
    run = sub.add_parser("run", help="run agents x scenarios x seeds and write records and a report")
    run.add_argument(
        "--preset",
        choices=["quick", "paper", "ablation", "generalization", "intents"],
        default="quick",
        help="protocol (default quick)",
    )
    run.add_argument("--agents", nargs="+", help="agents by name or module:Class (default: the preset's)")
    run.add_argument(
        "--scenarios",
        nargs="+",
        help="scenario names, or SCENARIO@INTENT_ID for an intent episode (default: the preset's)",
    )
    run.add_argument(
        "--seeds", type=int, help="seeds per scenario, counted from the preset's first seed (default: the preset's)"
    )
    run.add_argument("--budget", type=int, help="simulator calls per agent and scenario (default 12 per seed)")
    run.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    run.add_argument("--backend", choices=["local", "ray"], default="local")
    run.add_argument("--address", help="Ray cluster address (backend ray; default: start a local Ray)")
    run.add_argument("--out", default="results", help="results directory (default ./results)")
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    run.add_argument(
        "--episode-timeout",
        type=float,
        default=600.0,
        help="wall-time limit per episode and per agent preparation, s; past it the episode is an error record "
        "(default 600; 0: none)",
    )
    run.add_argument(
        "--strict",
        action="store_true",
        help="run every agent in a process of its own that never holds the evaluation environment",
    )
    run.add_argument(
        "--sealed",
        action="store_true",
        help="draw the episodes under a secret key (kept in the results folder as .twm-bench.key) that no agent "
        "can learn; implies --strict",
    )
    run.add_argument("--key-file", help="a sealed run's key, to reproduce its records (implies --sealed)")
    report = sub.add_parser("report", help="write the table and plots of a results directory")
    report.add_argument("directory")
    twin = sub.add_parser("twin", help="KPI table of reference library policies on the twin")
    twin.add_argument("--scenarios", nargs="+", default=list(PAPER_SCENARIOS), help="scenario names")
    twin.add_argument("--seeds", type=int, default=32, help="exogenous seeds per scenario (default 32)")
    twin.add_argument("--seed0", type=int, default=0, help="first seed (default 0)")
    train = sub.add_parser("train", help="train a world model or an RL policy and write its checkpoint")
    train.add_argument(
        "model",
        choices=["fwm", "cdwm", "ppo", "sac", "ippo"],
        help="fwm / cdwm: a world model; ppo / sac: an SB3 policy on TWM/* ids; ippo: shared multi-agent PPO",
    )
    train.add_argument(
        "--config", default="default", help="preset: fwm default|tiny, cdwm default|tiny|sets (default: default)"
    )
    train.add_argument(
        "--set", nargs="+", default=[], metavar="KEY=VALUE", help="override config fields, e.g. epochs=4 device=cpu"
    )
    train.add_argument("--out", required=True, help="checkpoint path without suffix (writes .safetensors and .json)")
    train.add_argument("--quiet", action="store_true", help="no progress lines")
    axis = sub.add_parser("axis", help="score a world model on a TelecomWorldBench axis")
    axis.add_argument("name", choices=["field", "trajectory"], help="which axis")
    axis.add_argument("--checkpoint", help="model checkpoint: a path or a shipped name (default: the shipped default)")
    axis.add_argument("--seeds", type=int, default=60, help="held-out episodes per scenario (default 60)")
    axis.add_argument("--out", default="results", help="directory for <axis>_axis.json and .md (default ./results)")
    axis.add_argument(
        "--states", type=int, default=4, help="trajectory: start states per scenario and step for ranking (0: skip)"
    )
    axis.add_argument(
        "--splits",
        nargs="+",
        default=[],
        choices=list(SPLIT_NAMES),
        help="also score every scenario of these scenario splits (e.g. test-cities); an any-city model's",
    )
    board = sub.add_parser(
        "leaderboard", help="the three TelecomWorldBench axes for world models and agents: one table and figures"
    )
    board.add_argument("--preset", choices=["quick", "full"], default="quick", help="protocol (default quick)")
    board.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    board.add_argument("--fwm", nargs="+", default=[], help="plug-in FWMs: checkpoint path, module:attr or entry point")
    board.add_argument(
        "--cdwm", nargs="+", default=[], help="plug-in CDWMs: checkpoint path, module:attr or entry point"
    )
    board.add_argument("--agents", nargs="+", default=[], help="plug-in agents added to the presets' agents")
    board.add_argument("--out", default="results/leaderboard", help="folder (default ./results/leaderboard)")
    board.add_argument("--quiet", action="store_true", help="no progress lines")
    board.add_argument(
        "--table", metavar="FILE", help="print the markdown table of a written leaderboard.json; run nothing"
    )
    scen = sub.add_parser("scenarios", help="the scenario format: its JSON Schema, and checking files against it")
    scen_sub = scen.add_subparsers(dest="scenarios_command", required=True)
    scen_sub.add_parser("schema", help="print the JSON Schema of a scenario file")
    check = scen_sub.add_parser("check", help="load scenario files (or names) and report what is wrong with each")
    check.add_argument("files", nargs="+", help="scenario JSON files or registered names")
    gen = scen_sub.add_parser("generate", help="draw a city and write its shock families as scenario files")
    gen.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    gen.add_argument("--cells", type=int, default=20, help="cells, 5 to 200 (default 20)")
    gen.add_argument("--layout", default="random", help="grid, random or clustered (default random)")
    gen.add_argument(
        "--transport", default="hub-and-spoke", help="hub-and-spoke, ring or two-tier (default hub-and-spoke)"
    )
    gen.add_argument(
        "--families",
        nargs="+",
        default=["hotspot", "wave"],
        help="hotspot, wave, cell-hotspot, outage (default hotspot wave)",
    )
    gen.add_argument("--out", required=True, help="folder for the files (an ID and an OOD file per family)")
    lst = scen_sub.add_parser("list", help="the registered scenarios, or those of a split")
    lst.add_argument("--split", help="train, test-seeds, test-families, test-cities or paper")
    return parser


def reference(width: int = 100) -> str:
    """Markdown reference of the command line, from the parser itself: ``twm-bench --help`` and every
    subcommand's help, ``width`` columns wide (not the terminal's, so the page is reproducible)."""

    def walk(parser: argparse.ArgumentParser, name: str) -> list[str]:
        parser.formatter_class = lambda prog: argparse.HelpFormatter(prog, width=width)
        text = ["", f"### `{name}`", "", "```text", parser.format_help().rstrip(), "```"]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    text += walk(sub, f"{name} {sub_name}")
        return text

    return "\n".join(walk(_parser(), "twm-bench")).strip()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            from twm_agents.registry import available

            print("agents: " + ", ".join(available()))
            print("scenarios: " + ", ".join(list_scenarios()))
            return 0
        if args.command == "run":
            return _run(args)
        if args.command == "report":
            from twm_bench import report

            path = report.write_report(args.directory)
            print(report.format_table(report.summarize(report.current_records(args.directory)[0])))
            print(f"\nreport: {path}")
            return 0
        if args.command == "twin":
            if args.seeds < 1:
                print("twm-bench: error: --seeds must be >= 1", file=sys.stderr)
                return 2
            from twm_bench import twin_table

            for name in args.scenarios:  # fail fast, before any simulation, on a bad name
                load_scenario(name)
            rows, rate = twin_table.twin_table(list(args.scenarios), args.seeds, args.seed0)
            print(twin_table.format_table(rows))
            print(f"\n{args.seeds} seeds x 256 library candidates per scenario; twin throughput {rate:,.0f} rollouts/s")
            return 0
        if args.command == "train":
            return _train(args)
        if args.command == "scenarios":
            return _scenarios(args)
        if args.command == "leaderboard":
            return _leaderboard(args)
        if args.command == "axis":
            if args.seeds < 1:
                print("twm-bench: error: --seeds must be >= 1", file=sys.stderr)
                return 2
            extra: dict[str, Any] = {"splits": tuple(args.splits)}
            if args.name == "field":
                from twm_bench import field_axis as axis_module
            else:
                from twm_bench import trajectory_axis as axis_module  # type: ignore[no-redef]

                extra["states"] = args.states
            try:
                result = axis_module.run(args.checkpoint, seeds=args.seeds, out=args.out, **extra)
            except ValueError as exc:  # a missing, tampered or mismatched checkpoint
                print(f"twm-bench: error: {exc}", file=sys.stderr)
                return 2
            print(axis_module.format_table(result))
            print(f"\nwritten: {Path(args.out) / axis_module.JSON_FILE}, {Path(args.out) / axis_module.MD_FILE}")
            return 0
    except (ScenarioError, SpecError, RecordError) as exc:
        print(f"twm-bench: error: {exc}", file=sys.stderr)
        return 2
    return 1  # pragma: no cover - argparse rejects unknown commands


def _train(args: argparse.Namespace) -> int:
    if args.model == "fwm":
        from twm_agents.fwm.train import FWMConfig as Config
        from twm_agents.fwm.train import train
    elif args.model == "cdwm":
        from twm_agents.cdwm.train import CDWMConfig as Config  # type: ignore[assignment]
        from twm_agents.cdwm.train import train  # type: ignore[assignment]
    else:
        from twm_agents.rl.marl import scenarios_of, train_ippo
        from twm_agents.rl.train import RLConfig as Config  # type: ignore[assignment]
        from twm_agents.rl.train import observation_keys, train  # type: ignore[assignment]

        if args.model == "ippo":
            train = train_ippo  # type: ignore[assignment]

    overrides = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            print(f"twm-bench: error: --set takes KEY=VALUE, got {item!r}", file=sys.stderr)
            return 2
        overrides[key] = value
    try:
        if args.model in ("ppo", "sac", "ippo"):
            algo = "sac" if args.model == "sac" else "ppo"
            if overrides.get("algo", algo) != algo:
                raise ValueError(f"RLConfig.algo: `train {args.model}` trains {algo}; drop --set algo=...")
            overrides["algo"] = algo
        config = Config.preset(args.config).replace(overrides)
        if args.model in ("ppo", "sac"):
            observation_keys(config)  # type: ignore[arg-type]  # every env id: Dict spaces, one shape
        elif args.model == "ippo":
            scenarios_of(config)  # type: ignore[arg-type]
    except (ValueError, ScenarioError) as exc:
        print(f"twm-bench: error: {exc}", file=sys.stderr)
        return 2
    train(config, args.out, progress=None if args.quiet else print)  # type: ignore[arg-type]
    return 0


def _leaderboard(args: argparse.Namespace) -> int:
    from twm_bench import leaderboard

    if args.table:
        try:
            print(leaderboard.markdown(leaderboard.load(args.table)))
        except (OSError, ValueError, KeyError) as exc:
            print(f"twm-bench: error: --table {args.table}: not a written leaderboard ({exc})", file=sys.stderr)
            return 2
        return 0
    start = time.perf_counter()
    board = leaderboard.run(
        args.preset, args.out, args.workers, tuple(args.fwm), tuple(args.cdwm), tuple(args.agents), args.quiet
    )
    print(leaderboard.markdown(board))
    out = Path(args.out)
    written = f"{out / leaderboard.JSON_FILE}, {out / leaderboard.MD_FILE}, {out / leaderboard.FIGURE}.png/.svg"
    print(f"\nin {time.perf_counter() - start:.1f} s; written: {written}")
    return 0


def _scenarios(args: argparse.Namespace) -> int:
    if args.scenarios_command == "schema":
        from twm_gym.scenarios.schema import scenario_schema

        print(json.dumps(scenario_schema(), indent=2))
        return 0
    if args.scenarios_command == "generate":
        from twm_gym.scenarios.generator import generate
        from twm_gym.scenarios.splits import dump

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for data in generate(args.seed, args.cells, args.layout, args.transport, tuple(args.families)):
            path = out / f"{data['name']}.json"
            path.write_text(dump(data))
            print(path)
        return 0
    if args.scenarios_command == "list":
        from twm_gym.scenarios.splits import split_scenarios

        print("\n".join(split_scenarios(args.split) if args.split else list_scenarios()))
        return 0
    bad = 0
    for name in args.files:
        try:
            sc = load_scenario(name)
        except ScenarioError as exc:
            print(f"{name}: {exc}")
            bad += 1
        else:
            print(f"{name}: ok ({sc.n_cells} cells, {sc.n_links} links, {sc.horizon} steps, family {sc.family!r})")
    return 1 if bad else 0


def _run(args: argparse.Namespace) -> int:
    import dataclasses

    from twm_bench.report import current_records, format_table, summarize, write_report
    from twm_bench.runner import run
    from twm_bench.spec import preset

    spec = preset(args.preset, tuple(args.agents) if args.agents else None)
    changes: dict[str, Any] = {}
    if args.scenarios:
        changes["scenarios"] = tuple(args.scenarios)
    if args.seeds is not None:
        if args.seeds < 1:
            raise SpecError(f"--seeds: must be >= 1, got {args.seeds}")
        first = spec.seeds[0]  # a preset of held-out seeds keeps them held out
        changes["seeds"] = tuple(range(first, first + args.seeds))
    if args.budget is not None:
        changes["budget"] = args.budget
    if args.sealed or args.key_file:
        changes["sealed"] = True
    if changes:
        spec = dataclasses.replace(spec, **changes)  # validated again
    from twm_bench.records import results_lock

    if args.episode_timeout < 0:
        raise SpecError(f"--episode-timeout: must be >= 0 s, got {args.episode_timeout}")
    timeout = args.episode_timeout or None
    start = time.perf_counter()
    with results_lock(args.out):
        try:
            run(
                spec,
                args.out,
                args.workers,
                args.backend,
                args.address,
                args.quiet,
                timeout,
                args.strict,
                key_file=args.key_file,
            )
        except KeyboardInterrupt:
            print("\ntwm-bench: interrupted; the finished episodes are recorded (rerun to complete)", file=sys.stderr)
            with contextlib.suppress(RecordError):
                print(f"report of the finished episodes: {write_report(args.out)}", file=sys.stderr)
            return 130
    elapsed = time.perf_counter() - start
    report = write_report(args.out)
    print(format_table(summarize(current_records(args.out)[0])))
    shape = f"{len(spec.agents)} agents x {len(spec.scenarios)} scenarios x {len(spec.seeds)} seeds"
    print(f"\n{shape} in {elapsed:.1f} s; report: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
