"""The field-accuracy axis of TelecomWorldBench: an FWM on fresh held-out ID and OOD data.

``twm-bench axis field [--checkpoint NAME|PATH|module:attr] [--seeds N] [--splits SPLIT ...] [--out DIR]`` draws
``N`` new rollouts per scenario from the FWM's held-out seed range (disjoint from training and
calibration) for the scenarios the checkpoint was trained on (``id``) and its OOD scenarios, and
for every scenario of each named scenario split (``twm_gym.scenarios.splits``: ``test-cities``,
``test-families``, ``paper``; only an any-city checkpoint, ``cells="sets"``, reads other cities),
scores the model with ``agents/twm_agents/fwm/metrics.py`` (R² per feature and overall, pooled over
the split's cities; SINR-map RMSE and SSIM; 90 % interval coverage and width) and writes
``field_axis.json`` and ``field_axis.md``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from twm_bench.records import write_json_atomic

JSON_FILE = "field_axis.json"
MD_FILE = "field_axis.md"
AXIS_SEED0 = 5_000_000  # beyond every training split's seed range (agents/twm_agents/fwm/train.py)


def run(
    checkpoint: str | Path | None, seeds: int = 60, out: str | Path = "results", splits: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Score a model (a shipped name, a plug-in, a checkpoint path — :func:`twm_agents.world_models.load`
    — or None: the shipped default) on its ID and OOD
    scenarios and on the scenario ``splits`` named; write and return the results."""
    from twm_agents import world_models
    from twm_gym.scenarios import load_scenario
    from twm_gym.scenarios.splits import split_scenarios

    model = world_models.load("fwm", str(checkpoint or ""))
    if splits and not model.shape.any_city:
        raise ValueError(
            f"splits: checkpoint {checkpoint or 'default'!r} reads one city; only an any-city FWM reads {list(splits)}"
        )
    cfg = model.meta.get("config", {})
    groups: dict[str, tuple[str, ...]] = {
        "id": tuple(cfg.get("scenarios", ("hotspot-id", "wave-id"))),
        "ood": tuple(cfg.get("ood_scenarios", ("hotspot-ood", "wave-ood"))),
    }
    for split in splits:
        groups[split] = tuple(split_scenarios(split))
    for name in {n for names in groups.values() for n in names}:
        load_scenario(name)
    result: dict[str, Any] = {"checkpoint": str(checkpoint or "default"), "seeds": seeds, "splits": {}}
    for split, names in groups.items():
        if names:
            result["splits"][split] = {"scenarios": list(names), **score(model, names, seeds)}
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / JSON_FILE, result)
    (out_dir / MD_FILE).write_text(format_table(result) + "\n")
    return result


def score(model: Any, names: tuple[str, ...], seeds: int) -> dict[str, Any]:
    """Metrics of ``model`` pooled over the scenarios ``names``, ``seeds`` held-out rollouts each,
    every scenario generated and predicted in turn (one city in memory)."""
    from twm_agents.fwm.data import generate
    from twm_agents.fwm.fields import field_geometry
    from twm_agents.fwm.metrics import field_metrics
    from twm_gym.scenarios import load_scenario

    ys, preds, maps, seconds, samples = [], [], [], 0.0, 0
    for name in names:
        data = generate(name, range(AXIS_SEED0, AXIS_SEED0 + seeds), rng_seed=7, cells=model.shape.cells)
        city = field_geometry(load_scenario(name)) if model.shape.any_city else None
        t0 = time.perf_counter()
        preds.append(model.predict(data.x, city=city, with_field=True))
        seconds += time.perf_counter() - t0
        ys.append(data.y)
        maps.append(data.sinr)
        samples += len(data)
    metrics: dict[str, Any] = field_metrics(ys, preds, maps)
    metrics["predict_s_per_1k"] = seconds / samples * 1000
    if len(names) > 1:  # where the pooled figure comes from
        metrics["per_scenario"] = {
            name: {k: v for k, v in field_metrics(y, pred).items() if k in ("r2", "picp")}
            for name, y, pred in zip(names, ys, preds, strict=True)
        }
    return metrics


def format_table(result: dict[str, Any]) -> str:
    """Markdown: one row per feature (R², PICP, mean width) per split, then the map and overall rows."""
    from twm_agents.fwm.fields import FEATURE_UNITS, FEATURES

    splits = result["splits"]
    names = list(splits)
    head = "| feature | unit | " + " | ".join(f"R² {s} | PICP {s} | width {s}" for s in names) + " |"
    rule = "|---|---|" + "---|---|---|" * len(names)
    lines = [f"Field-accuracy axis ({result['checkpoint']}, {result['seeds']} rollouts per scenario)", "", head, rule]
    for feat, unit in zip(FEATURES, FEATURE_UNITS, strict=True):
        cells = " | ".join(
            f"{splits[s][f'r2_{feat}']:.4f} | {splits[s][f'picp_{feat}']:.3f} | {splits[s][f'width_{feat}']:.3g}"
            for s in names
        )
        lines.append(f"| {feat} | {unit} | {cells} |")
    overall = " | ".join(
        f"**{splits[s]['r2']:.4f}** | **{splits[s]['picp']:.3f}** | {splits[s]['width_rel']:.3g} (rel.)" for s in names
    )
    lines.append(f"| all 12 (mean R², pooled PICP) | | {overall} |")
    lines.append("")
    for s in names:
        m = splits[s]
        where = m["scenarios"] if len(m["scenarios"]) <= 4 else [f"{len(m['scenarios'])} scenarios"]
        lines.append(
            f"* {s} ({', '.join(where)}, {int(m['n'])} samples): SINR map RMSE {m['sinr_rmse_db']:.3f} dB, "
            f"SSIM {m['sinr_ssim']:.4f}"
        )
        for name, r in m.get("per_scenario", {}).items():
            lines.append(f"  * {name}: R² {r['r2']:.4f}, PICP {r['picp']:.3f}")
    return "\n".join(lines)
