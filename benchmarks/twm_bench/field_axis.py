"""The field-accuracy axis of TelecomWorldBench: an FWM checkpoint on fresh held-out ID and OOD data.

``twm-bench axis field [--checkpoint PATH] [--seeds N] [--out DIR]`` draws ``N`` new rollouts per
scenario from the FWM's held-out seed range (disjoint from training and calibration), scores the
model with ``agents/twm_agents/fwm/metrics.py`` (R² per feature and overall, SINR-map RMSE and SSIM, 90 %
interval coverage and width) and writes ``field_axis.json`` and ``field_axis.md``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from twm_bench.records import write_json_atomic

JSON_FILE = "field_axis.json"
MD_FILE = "field_axis.md"
AXIS_SEED0 = 5_000_000  # beyond every training split's seed range (agents/twm_agents/fwm/train.py)


def run(checkpoint: str | Path | None, seeds: int = 60, out: str | Path = "results") -> dict[str, Any]:
    """Score a checkpoint (None: the shipped one) on ID and OOD data; write and return the results."""
    from twm_agents.fwm.data import concat, generate
    from twm_agents.fwm.metrics import evaluate
    from twm_agents.fwm.predictor import FieldModel
    from twm_gym.scenarios import load_scenario

    model = FieldModel.default() if checkpoint is None else FieldModel.load(checkpoint)
    cfg = model.meta.get("config", {})
    id_names = tuple(cfg.get("scenarios", ("hotspot-id", "wave-id")))
    ood_names = tuple(cfg.get("ood_scenarios", ("hotspot-ood", "wave-ood")))
    for name in (*id_names, *ood_names):
        load_scenario(name)
    result: dict[str, Any] = {"checkpoint": str(checkpoint or "default"), "seeds": seeds, "splits": {}}
    for split, names in (("id", id_names), ("ood", ood_names)):
        if not names:
            continue
        data = concat([generate(n, range(AXIS_SEED0, AXIS_SEED0 + seeds), rng_seed=7) for n in names])
        t0 = time.perf_counter()
        metrics = evaluate(model, data)
        metrics["predict_s_per_1k"] = (time.perf_counter() - t0) / len(data) * 1000
        result["splits"][split] = {"scenarios": list(names), **metrics}
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / JSON_FILE, result)
    (out_dir / MD_FILE).write_text(format_table(result) + "\n")
    return result


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
        lines.append(
            f"* {s} ({', '.join(m['scenarios'])}, {int(m['n'])} samples): SINR map RMSE {m['sinr_rmse_db']:.3f} dB, "
            f"SSIM {m['sinr_ssim']:.4f}"
        )
    return "\n".join(lines)
