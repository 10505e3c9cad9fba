"""The trajectory-accuracy axis of TelecomWorldBench, and the CDWM's ranking quality.

``twm-bench axis trajectory [--checkpoint NAME|PATH|module:attr] [--seeds N] [--splits SPLIT ...] [--out DIR]`` draws
``N`` fresh episodes per scenario (seed range 6,000,000+) for three splits of the scenarios the
checkpoint was trained on — ID under the logging mix, ID under the candidates held out of it
(unseen actions), and OOD — and for every scenario of each named scenario split
(``twm_gym.scenarios.splits``: ``test-cities``, ``test-families``, ``paper``; a checkpoint with the
``sets`` encoding reads any city, a flat one only its own), scores them with
``agents/twm_agents/cdwm/metrics.py``, then measures ranking quality (``agents/twm_agents/cdwm/evaluate.py``: Spearman
correlation over the 256 candidates between predicted and twin-expected utility) from held-out
start states at steps 0, 3 and 6. Writes ``trajectory_axis.json`` and ``trajectory_axis.md``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from twm_bench.records import write_json_atomic

JSON_FILE = "trajectory_axis.json"
MD_FILE = "trajectory_axis.md"
AXIS_SEED0 = 6_000_000
RANKING_STEPS = (0, 3, 6)
RANKING_STATES = 4  # start states per scenario and step
RANKING_FUTURES = 32  # exogenous continuations averaged for the twin-true utility


def run(
    checkpoint: str | Path | None,
    seeds: int = 60,
    out: str | Path = "results",
    states: int = RANKING_STATES,
    splits: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Score a CDWM (a shipped name, a plug-in, a checkpoint path — :func:`twm_agents.world_models.load`
    — or None: the shipped default) on its own scenarios and on the scenario ``splits`` named;
    write and return the results."""
    import torch

    from twm_agents import world_models
    from twm_agents.cdwm.data import concat, generate, unseen_candidates
    from twm_agents.cdwm.metrics import trajectory_metrics
    from twm_gym.scenarios.splits import split_scenarios

    torch.manual_seed(0)  # imagination samples latents: a fixed seed makes the axis reproducible
    model = world_models.load("cdwm", str(checkpoint or ""))
    cfg = model.meta.get("config", {})
    id_names = tuple(cfg.get("scenarios", ("hotspot-id", "wave-id")))
    ood_names = tuple(cfg.get("ood_scenarios", ("hotspot-ood", "wave-ood")))
    samples = int(cfg.get("samples", 8))
    fwm = load_fwm_for(model)
    seeds_range = range(AXIS_SEED0, AXIS_SEED0 + seeds)
    kw = _data_options(model, fwm)
    unseen = concat([generate(n, seeds_range, rng_seed=12, candidates=unseen_candidates(), **kw) for n in id_names])
    result: dict[str, Any] = {"checkpoint": str(checkpoint or "default"), "seeds": seeds, "splits": {}, "ranking": {}}
    result["splits"]["id"] = score(model, id_names, seeds, rng_seed=11, fwm=fwm)
    result["splits"]["unseen_action"] = trajectory_metrics(model, unseen, samples)
    result["splits"]["ood"] = score(model, ood_names, seeds, rng_seed=13, fwm=fwm)
    ranked = [*id_names, *ood_names]
    for split in splits:
        names = split_scenarios(split)
        result["splits"][split] = score(model, names, seeds, rng_seed=14, fwm=fwm)
        ranked += [n for n in names if n not in ranked]
    result["ranking"] = ranking(model, ranked, states, fwm=fwm) if states else {}
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / JSON_FILE, result)
    (out_dir / MD_FILE).write_text(format_table(result) + "\n")
    return result


def _data_options(model: Any, fwm: Any) -> dict[str, Any]:
    return {"fwm": fwm, "encoding": model.shape.encoding, "observations": model.shape.observations}


def score(model: Any, names: tuple[str, ...], seeds: int, *, rng_seed: int = 14, fwm: Any = None) -> dict[str, float]:
    """Trajectory metrics of ``model`` pooled over the scenarios ``names``, ``seeds`` fresh episodes
    each under the logging mix (``fwm``: the field model a CDWM with FWM features reads)."""
    from twm_agents.cdwm.data import concat, generate
    from twm_agents.cdwm.metrics import trajectory_metrics

    seeds_range = range(AXIS_SEED0, AXIS_SEED0 + seeds)
    kw = _data_options(model, fwm)
    data = concat([generate(n, seeds_range, rng_seed=rng_seed, **kw) for n in names])
    return trajectory_metrics(model, data, int(model.meta.get("config", {}).get("samples", 8)))


def ranking(
    model: Any,
    names: list[str] | tuple[str, ...],
    states: int,
    *,
    steps: tuple[int, ...] = RANKING_STEPS,
    futures: int = RANKING_FUTURES,
    fwm: Any = None,
) -> dict[str, dict[str, float]]:
    """Ranking quality (``cdwm/evaluate.py:ranking_quality``) per ``"scenario@tSTEP"``: ``states``
    held-out start states per scenario and step, the twin's truth averaged over ``futures``."""
    from twm_agents.cdwm.evaluate import RANKING_SEED0, ranking_quality
    from twm_gym.scenarios import load_scenario

    samples = int(model.meta.get("config", {}).get("samples", 8))
    start_seeds = list(range(RANKING_SEED0, RANKING_SEED0 + states))
    out = {}
    for scenario in names:
        sc = load_scenario(scenario)
        for t0 in steps:
            t_start = time.perf_counter()
            r = ranking_quality(model, sc, start_seeds, t0=t0, futures=futures, samples=samples, fwm=fwm)
            r["seconds"] = time.perf_counter() - t_start
            out[f"{scenario}@t{t0}"] = r
    return out


def load_fwm_for(model: Any) -> Any:
    """The field model a CDWM trained with FWM features needs (its recorded checkpoint), else None."""
    if not model.shape.fwm_dim:
        return None
    from twm_agents.fwm.predictor import FieldModel

    path = model.meta.get("config", {}).get("fwm_checkpoint", "")
    return FieldModel.named(path)


def format_table(result: dict[str, Any], by_scenario: bool = True) -> str:
    """Markdown: the trajectory metrics per split, then Spearman per scenario and start step
    (``by_scenario=False``: pooled per scenario folder — ``train``, ``test-cities``, ... — instead)."""
    keys = [
        ("step_rmse", "step RMSE (std. units)"),
        ("cumulative_mae_loss", "episode loss-rate MAE"),
        ("cumulative_mae_d99", "episode d99 MAE (ms)"),
        ("picp", "90 % interval coverage"),
        ("width", "interval width (std. units)"),
        ("crps", "CRPS (std. units)"),
        ("brier", "violation Brier"),
        ("ece", "violation ECE"),
        ("disagreement_error_corr", "disagreement vs error (Spearman)"),
    ]
    splits = result["splits"]
    names = list(splits)
    lines = [
        f"Trajectory-accuracy axis ({result['checkpoint']}, {result['seeds']} episodes per scenario and split)",
        "",
        "| metric | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for key, label in keys:
        lines.append(f"| {label} | " + " | ".join(f"{splits[n][key]:.3f}" for n in names) + " |")
    if not result["ranking"]:  # run with --states 0
        return "\n".join(lines)
    lines += ["", "Ranking quality: Spearman over the 256 candidates, predicted vs twin-expected utility", ""]
    if not by_scenario:
        return "\n".join(lines + _ranking_by_folder(result["ranking"]))
    lines += [
        "| scenario @ start step | all 256: mean | all 256: min | 32 unseen: mean | states |",
        "|---|---|---|---|---|",
    ]
    for key, r in result["ranking"].items():
        cells = [f"{r[k]:.3f}" for k in ("spearman", "spearman_min", "spearman_unseen")] + [str(int(r["states"]))]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ranking_by_folder(ranking: dict[str, dict[str, float]]) -> list[str]:
    """Spearman pooled over every start state of a scenario folder: mean, median, min, max."""
    import numpy as np

    groups: dict[str, list[dict[str, float]]] = {}
    for key, r in ranking.items():
        scenario = key.rpartition("@")[0]
        groups.setdefault(scenario.partition("/")[0] if "/" in scenario else "paper", []).append(r)
    lines = [
        "| scenarios | start states | Spearman: mean | median | min | max | 32 unseen: mean |",
        "|---|---|---|---|---|---|---|",
    ]
    for folder, rows in groups.items():
        rho = np.array([r["spearman"] for r in rows])
        w = np.array([r["states"] for r in rows])
        unseen = np.array([r["spearman_unseen"] for r in rows])
        cells = [
            f"{np.average(rho, weights=w):.3f}",
            f"{np.median(rho):.3f}",
            f"{min(r['spearman_min'] for r in rows):.3f}",
            f"{rho.max():.3f}",
            f"{np.average(unseen, weights=w):.3f}",
        ]
        lines.append(f"| {folder} ({len(rows)} scenario-steps) | {int(w.sum())} | " + " | ".join(cells) + " |")
    return lines
