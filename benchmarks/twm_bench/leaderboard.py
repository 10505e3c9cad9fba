"""The TelecomWorldBench leaderboard: the three axes in one table.

    twm-bench leaderboard [--preset quick|full] [--workers N] [--fwm SPEC ...] [--cdwm SPEC ...]
                          [--agents SPEC ...] [--out results/leaderboard]
    twm-bench leaderboard --table docs/data/leaderboard.json

* **Field accuracy** of every FWM (:mod:`twm_bench.field_axis`): mean R² over the 12 field features
  and the 90 % interval coverage, on the paper's city and on the held-out cities (``test-cities``);
* **trajectory accuracy** of every CDWM (:mod:`twm_bench.trajectory_axis`): CRPS (standardized
  units) and the Spearman correlation of its candidate ranking with the twin's, on the same splits;
* **decision quality** of every agent: the share of the uniform -> oracle utility gap it closes on
  each test split of the ``generalization`` preset, and its mean intent-score on the ``intents``
  preset's test phrasings (± one standard error).

A one-city model has no held-out-city cell. World models are the shipped checkpoints plus the
plug-ins named (:mod:`twm_agents.world_models`: a checkpoint path, ``module:attr`` or an entry point
of ``twm_gym.fwm`` / ``twm_gym.cdwm``); agents are the presets' plus those named. The world-model
axes run in ``workers`` processes (one torch thread each); the decision runs are ordinary
``twm-bench run`` folders under ``out`` (``generalization/``, ``intents/``) and resume as they do;
each model's axes are kept in ``out/axes/`` and reused while the protocol is unchanged. Writes
``leaderboard.json``, ``leaderboard.md`` and ``leaderboard.png`` / ``.svg``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from twm_bench.records import Record, write_json_atomic

JSON_FILE = "leaderboard.json"
MD_FILE = "leaderboard.md"
FIGURE = "leaderboard"
AXIS_SPLITS = ("paper", "test-cities")
"""Where the world models are scored: the paper's city (every shipped model reads it) and the held-out cities."""
FWMS = ("sets", "default")
CDWMS = ("sets-fields", "sets-csw", "default")
"""The shipped world models on the board: any-city first, then the paper city's."""


@dataclass(frozen=True)
class Protocol:
    """How much of each axis a leaderboard runs."""

    name: str
    field_seeds: int  # held-out rollouts per scenario (field axis)
    trajectory_seeds: int  # held-out episodes per scenario (trajectory axis)
    ranking_states: int  # start states per scenario and step (ranking quality)
    ranking_steps: tuple[int, ...]  # decision steps the ranking starts from
    ranking_futures: int  # exogenous continuations averaged for the twin's truth
    ranking_every: int  # ranking on every k-th scenario of a split, by name (4: one per generated city)
    decision_seeds: int  # held-out episodes per scenario, generalization preset
    intent_seeds: int  # episodes per intent phrasing, intents preset
    splits: tuple[str, ...] = AXIS_SPLITS  # scenario splits the world models are scored on


PROTOCOLS = {
    "quick": Protocol("quick", 4, 4, 1, (0,), 8, 4, 1, 1),
    "full": Protocol("full", 60, 60, 4, (0, 3, 6), 32, 1, 8, 4),
}
"""``full``: the axes' and the presets' own protocols; ``quick``: the same measurements, fewer draws."""


def run(
    preset: str = "quick",
    out: str | Path = "results/leaderboard",
    workers: int = 1,
    fwms: tuple[str, ...] = (),
    cdwms: tuple[str, ...] = (),
    agents: tuple[str, ...] = (),
    quiet: bool = False,
) -> dict[str, Any]:
    """Run (or resume) the leaderboard; write and return it. ``fwms``, ``cdwms``, ``agents``: plug-ins
    added to the shipped entries."""
    from twm_bench.spec import SpecError

    if preset not in PROTOCOLS:
        raise SpecError(f"preset: unknown leaderboard preset {preset!r}; valid: {sorted(PROTOCOLS)}")
    if workers < 1:
        raise SpecError(f"workers: must be >= 1, got {workers}")
    protocol = PROTOCOLS[preset]
    out_dir = Path(out)
    say = (lambda _msg: None) if quiet else print
    specs = _world_model_specs(fwms, cdwms)
    t0 = time.perf_counter()
    world = _world_models(specs, protocol, out_dir / "axes", workers, say)
    t1 = time.perf_counter()
    decision = _decision(protocol, out_dir, workers, agents, quiet)
    board = {
        "protocol": dataclasses.asdict(protocol),
        "world_models": world,
        **decision,
        "seconds": {"world_models": round(t1 - t0, 1), "decision": round(time.perf_counter() - t1, 1)},
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / JSON_FILE, board)
    (out_dir / MD_FILE).write_text(markdown(board) + "\n")
    figure(board, out_dir / FIGURE)
    return board


def _world_model_specs(fwms: tuple[str, ...], cdwms: tuple[str, ...]) -> list[tuple[str, str]]:
    from twm_agents import world_models
    from twm_bench.spec import SpecError

    specs = [("fwm", s) for s in dict.fromkeys((*FWMS, *fwms))] + [("cdwm", s) for s in dict.fromkeys((*CDWMS, *cdwms))]
    for kind, spec in specs:  # fail fast, before any run, on a name that resolves to nothing
        try:
            world_models.locate(kind, spec)
        except world_models.UnknownWorldModelError as exc:
            raise SpecError(str(exc)) from None
    return specs


def _slug(kind: str, spec: str) -> str:
    return f"{kind}-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", spec)[-80:]


def _world_models(
    specs: list[tuple[str, str]], protocol: Protocol, cache: Path, workers: int, say: Any
) -> list[dict[str, Any]]:
    """Every world model's axes, from ``cache`` where its protocol matches, else computed."""
    cache.mkdir(parents=True, exist_ok=True)
    results: dict[tuple[str, str], dict[str, Any]] = {}
    todo = []
    for kind, spec in specs:
        path = cache / f"{_slug(kind, spec)}.json"
        if path.is_file():
            kept = json.loads(path.read_text())
            if kept.get("protocol") == dataclasses.asdict(protocol) and kept.get("spec") == spec:
                results[kind, spec] = kept
                continue
        todo.append((kind, spec))
    if todo:
        names = ", ".join(s for _, s in todo)
        say(f"world models: scoring {len(todo)} ({names}) in {min(workers, len(todo))} processes")
        with ProcessPoolExecutor(max_workers=min(workers, len(todo)), initializer=_one_thread) as pool:
            done = pool.map(_axes, [k for k, _ in todo], [s for _, s in todo], [protocol] * len(todo))
            for (kind, spec), result in zip(todo, done, strict=True):
                write_json_atomic(cache / f"{_slug(kind, spec)}.json", result)
                results[kind, spec] = result
                say(f"  {kind} {spec}: {result['seconds']:.0f} s")
    return [results[key] for key in specs]


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)  # one torch thread per worker process: the axes' processes share the cores


def _axes(kind: str, spec: str, protocol: Protocol) -> dict[str, Any]:
    """One world model on :data:`AXIS_SPLITS` (a split it cannot read is recorded as such)."""
    import torch

    from twm_agents import world_models
    from twm_bench import field_axis, trajectory_axis
    from twm_gym.scenarios.splits import split_scenarios

    torch.manual_seed(0)  # imagination samples latents: the axes are reproducible
    start = time.perf_counter()
    model = world_models.load(kind, spec)
    any_city = bool(model.shape.any_city) if kind == "fwm" else model.shape.encoding == "sets"
    fwm = trajectory_axis.load_fwm_for(model) if kind == "cdwm" else None
    splits: dict[str, Any] = {}
    for split in protocol.splits:
        names = tuple(split_scenarios(split))
        if not any_city and split != "paper":
            splits[split] = {"error": "reads one city"}
            continue
        try:
            if kind == "fwm":
                m = field_axis.score(model, names, protocol.field_seeds)
                splits[split] = {"r2": m["r2"], "picp": m["picp"]}
            else:
                m = trajectory_axis.score(model, names, protocol.trajectory_seeds, fwm=fwm)
                ranks = trajectory_axis.ranking(
                    model,
                    names[:: protocol.ranking_every],
                    protocol.ranking_states,
                    steps=protocol.ranking_steps,
                    futures=protocol.ranking_futures,
                    fwm=fwm,
                )
                rho = [r["spearman"] for r in ranks.values()]
                splits[split] = {
                    "crps": m["crps"],
                    "picp": m["picp"],
                    "spearman": float(np.mean(rho)),
                    "ranking_states": len(rho) * protocol.ranking_states,
                }
        except ValueError as exc:  # a one-city model on a city it was not trained on
            splits[split] = {"error": str(exc)[:200]}
    return {
        "kind": kind,
        "spec": spec,
        "protocol": dataclasses.asdict(protocol),
        "splits": splits,
        "seconds": round(time.perf_counter() - start, 1),
    }


def _decision(protocol: Protocol, out: Path, workers: int, extra: tuple[str, ...], quiet: bool) -> dict[str, Any]:
    """The ``generalization`` and ``intents`` presets (the plug-in ``extra`` agents added), summarized."""
    from twm_bench.report import current_records, write_report
    from twm_bench.runner import run as run_spec
    from twm_bench.spec import preset

    specs = {}
    for name, seeds in (("generalization", protocol.decision_seeds), ("intents", protocol.intent_seeds)):
        base = preset(name)
        first = base.seeds[0]
        agents = tuple(dict.fromkeys((*base.agents, *extra)))
        specs[name] = dataclasses.replace(base, agents=agents, seeds=tuple(range(first, first + seeds)))
    for name, spec in specs.items():
        run_spec(spec, out / name, workers, quiet=quiet)
        write_report(out / name)
    generalization = current_records(out / "generalization")[0]
    intents = current_records(out / "intents")[0]
    return {"agents": agent_rows(generalization, intents, list(specs["generalization"].agents))}


def agent_rows(generalization: list[Record], intents: list[Record], order: list[str]) -> list[dict[str, Any]]:
    """Per agent: per test split the episodes, mean utility and share of the uniform -> oracle gap
    closed; over the intent episodes the mean intent-score and its standard error."""
    from twm_gym.scenarios.splits import TEST_SPLITS, evaluation_split

    utility: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in generalization:
        if r.error is None and r.utility is not None:
            utility[r.agent, evaluation_split(r.scenario)].append(float(r.utility))
    score: dict[str, list[float]] = defaultdict(list)
    for r in intents:
        if r.error is None and r.utility is not None:
            score[r.agent].append(float(r.utility))
    rows = []
    for agent in [*order, *(a for a in score if a not in order)]:
        splits = {}
        for split in TEST_SPLITS:
            mine, lo, hi = utility.get((agent, split)), utility.get(("uniform", split)), utility.get(("oracle", split))
            if not mine:
                continue
            cell: dict[str, Any] = {"episodes": len(mine), "utility": float(np.mean(mine))}
            if lo and hi and np.mean(hi) > np.mean(lo):
                cell["gap_closed"] = float((np.mean(mine) - np.mean(lo)) / (np.mean(hi) - np.mean(lo)))
            splits[split] = cell
        row: dict[str, Any] = {"agent": agent, "splits": splits}
        if score.get(agent):
            s = np.asarray(score[agent])
            se = float(s.std(ddof=1) / np.sqrt(len(s))) if len(s) > 1 else float("nan")
            row["intents"] = {"episodes": len(s), "mean": float(s.mean()), "se": se}
        rows.append(row)
    return rows


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _cell(values: list[str]) -> str:
    return " · ".join(values) if any(v != "—" for v in values) else ""


def _fmt(split: dict[str, Any] | None, key: str, pattern: str) -> str:
    if not split or key not in split:
        return "—"
    return pattern.format(split[key])


def markdown(board: dict[str, Any]) -> str:
    """The leaderboard as one markdown table (``paper · test-cities`` in the world-model columns;
    ``test-seeds · test-families · test-cities · paper`` in the decision column)."""
    from twm_gym.scenarios.splits import TEST_SPLITS

    p = board["protocol"]
    every = f" (every {p['ranking_every']}th by name)" if p["ranking_every"] > 1 else ""
    lines = [
        f"TelecomWorldBench leaderboard ({p['name']}: field {p['field_seeds']} and trajectory "
        f"{p['trajectory_seeds']} held-out episodes per scenario, ranking from {p['ranking_states']} start "
        f"state(s) per scenario{every} at step(s) {', '.join(map(str, p['ranking_steps']))} against "
        f"{p['ranking_futures']} twin futures; decisions on {p['decision_seeds']} held-out episode(s) per "
        f"generalization scenario and {p['intent_seeds']} per intent phrasing)",
        "",
        "| entry | kind | field R² | field PICP | trajectory CRPS | trajectory PICP | ranking ρ "
        "| gap closed (%) | intent score |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in board["world_models"]:
        s = [m["splits"].get(split) for split in p["splits"]]
        if m["kind"] == "fwm":
            cols = [_cell([_fmt(x, "r2", "{:.3f}") for x in s]), _cell([_fmt(x, "picp", "{:.2f}") for x in s])]
            cols += ["", "", ""]
        else:
            cols = ["", ""] + [
                _cell([_fmt(x, key, pattern) for x in s])
                for key, pattern in (("crps", "{:.3f}"), ("picp", "{:.2f}"), ("spearman", "{:.2f}"))
            ]
        lines.append(_row([m["spec"], m["kind"].upper(), *cols, "", ""]))
    for a in board["agents"]:
        gap = _cell([_fmt(a["splits"].get(split), "gap_closed", "{:.0%}").rstrip("%") for split in TEST_SPLITS])
        intent = a.get("intents")
        score = f"{intent['mean']:+.3f} ± {intent['se']:.3f}" if intent else ""
        lines.append(_row([a["agent"], "agent", "", "", "", "", "", gap, score]))
    lines += [
        "",
        f"World-model columns: {' · '.join(p['splits'])} (— : a one-city model). Gap closed: the share of "
        "the uniform → oracle utility gap, test-seeds · test-families · test-cities · paper. Intent score: "
        "mean over the intents preset's test phrasings ± 1 SE.",
    ]
    return "\n".join(lines)


def figure(board: dict[str, Any], stem: Path) -> None:
    """Four panels: field R², ranking ρ (per split), gap closed per agent and split, intent score."""
    from twm_bench.plots import _figure, _save
    from twm_gym.scenarios.splits import TEST_SPLITS

    fig = _figure(13.0, 7.0)
    axes = [fig.add_subplot(2, 2, k) for k in (1, 2, 3, 4)]
    for ax, kind, key, label in ((axes[0], "fwm", "r2", "field R²"), (axes[1], "cdwm", "spearman", "ranking ρ")):
        models = [m for m in board["world_models"] if m["kind"] == kind]
        splits = tuple(board["protocol"]["splits"])
        values = [[m["splits"].get(s, {}).get(key) for s in splits] for m in models]
        _bars(ax, [m["spec"] for m in models], splits, values)
        ax.set_ylabel(label)
        ax.set_title(f"{kind.upper()}: {label} on the paper's city and held-out cities", fontsize=9)
    agents = [a for a in board["agents"] if a["agent"] != "oracle" and a["splits"]]
    gaps = [[a["splits"].get(s, {}).get("gap_closed") for s in TEST_SPLITS] for a in agents]
    _bars(axes[2], [a["agent"] for a in agents], TEST_SPLITS, gaps)
    axes[2].set_ylabel("share of the uniform → oracle gap")
    axes[2].set_title("Decisions: gap closed per test split", fontsize=9)
    scored = [a for a in board["agents"] if a.get("intents")]
    axes[3].bar(
        range(len(scored)),
        [a["intents"]["mean"] for a in scored],
        yerr=[0.0 if np.isnan(a["intents"]["se"]) else a["intents"]["se"] for a in scored],
        capsize=2,
    )
    axes[3].set_xticks(range(len(scored)))
    axes[3].set_xticklabels([a["agent"] for a in scored], rotation=30, ha="right", fontsize=7)
    axes[3].set_ylabel("mean intent-score")
    axes[3].set_title("Intents: mean score over the test phrasings (± 1 SE)", fontsize=9)
    _save(fig, stem)


def _bars(ax: Any, names: list[str], groups: tuple[str, ...], values: list[list[float | None]]) -> None:
    """Grouped bars: ``values[item][group]`` (None: no bar)."""
    width = 0.8 / max(len(groups), 1)
    for k, group in enumerate(groups):
        pts = [(i + (k - (len(groups) - 1) / 2) * width, v[k]) for i, v in enumerate(values) if v[k] is not None]
        ax.bar([x for x, _ in pts], [y for _, y in pts], width, label=group)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=7)
    ax.axhline(0, color="black", lw=0.5)
    ax.legend(fontsize=7)


def load(path: str | Path) -> dict[str, Any]:
    """A written ``leaderboard.json``."""
    board: dict[str, Any] = json.loads(Path(path).read_text())
    return board
