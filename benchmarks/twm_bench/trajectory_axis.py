"""The trajectory-accuracy axis of TelecomWorldBench, and the CDWM's ranking quality.

``twm-bench axis trajectory [--checkpoint PATH] [--seeds N] [--splits SPLIT ...] [--out DIR]`` draws
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
    """Score a CDWM checkpoint (None: the shipped one) on its own scenarios and on the scenario
    ``splits`` named; write and return the results."""
    import torch

    from twm_agents.cdwm.data import concat, generate, unseen_candidates
    from twm_agents.cdwm.evaluate import RANKING_SEED0, ranking_quality
    from twm_agents.cdwm.metrics import trajectory_metrics
    from twm_agents.cdwm.predictor import CDWMModel
    from twm_gym.scenarios import load_scenario
    from twm_gym.scenarios.splits import split_scenarios

    torch.manual_seed(0)  # imagination samples latents: a fixed seed makes the axis reproducible
    model = CDWMModel.named(str(checkpoint or ""))
    cfg = model.meta.get("config", {})
    id_names = tuple(cfg.get("scenarios", ("hotspot-id", "wave-id")))
    ood_names = tuple(cfg.get("ood_scenarios", ("hotspot-ood", "wave-ood")))
    samples = int(cfg.get("samples", 8))
    fwm = load_fwm_for(model)
    encoding = model.shape.encoding
    seeds_range = range(AXIS_SEED0, AXIS_SEED0 + seeds)
    kw: dict[str, Any] = {"fwm": fwm, "encoding": encoding, "observations": model.shape.observations}
    data_splits = {
        "id": concat([generate(n, seeds_range, rng_seed=11, **kw) for n in id_names]),
        "unseen_action": concat(
            [generate(n, seeds_range, rng_seed=12, candidates=unseen_candidates(), **kw) for n in id_names]
        ),
        "ood": concat([generate(n, seeds_range, rng_seed=13, **kw) for n in ood_names]),
    }
    ranked = [*id_names, *ood_names]
    for split in splits:
        names = split_scenarios(split)
        data_splits[split] = concat([generate(n, seeds_range, rng_seed=14, **kw) for n in names])
        ranked += [n for n in names if n not in ranked]
    result: dict[str, Any] = {"checkpoint": str(checkpoint or "default"), "seeds": seeds, "splits": {}, "ranking": {}}
    for name, data in data_splits.items():
        result["splits"][name] = trajectory_metrics(model, data, samples)
    start_seeds = list(range(RANKING_SEED0, RANKING_SEED0 + states))
    for scenario in ranked if states else ():
        sc = load_scenario(scenario)
        for t0 in RANKING_STEPS:
            t_start = time.perf_counter()
            r = ranking_quality(model, sc, start_seeds, t0=t0, futures=RANKING_FUTURES, samples=samples, fwm=fwm)
            r["seconds"] = time.perf_counter() - t_start
            result["ranking"][f"{scenario}@t{t0}"] = r
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / JSON_FILE, result)
    (out_dir / MD_FILE).write_text(format_table(result) + "\n")
    return result


def load_fwm_for(model: Any) -> Any:
    """The field model a CDWM trained with FWM features needs (its recorded checkpoint), else None."""
    if not model.shape.fwm_dim:
        return None
    from twm_agents.fwm.predictor import FieldModel

    path = model.meta.get("config", {}).get("fwm_checkpoint", "")
    return FieldModel.named(path)


def format_table(result: dict[str, Any]) -> str:
    """Markdown: the trajectory metrics per split, then Spearman per scenario and start step."""
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
    lines += ["", "Ranking quality: Spearman over the 256 candidates, predicted vs twin-expected utility", ""]
    lines += [
        "| scenario @ start step | all 256: mean | all 256: min | 32 unseen: mean | states |",
        "|---|---|---|---|---|",
    ]
    for key, r in result["ranking"].items():
        cells = [f"{r[k]:.3f}" for k in ("spearman", "spearman_min", "spearman_unseen")] + [str(int(r["states"]))]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
