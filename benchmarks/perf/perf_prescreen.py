"""Precision and recall of the embedded prescreen against the twin's ground truth.

    python benchmarks/perf/perf_prescreen.py [--seeds 16] [--json docs/data/prescreen.json]
    python benchmarks/perf/perf_prescreen.py --table docs/data/prescreen.json

A candidate is *unsafe* if it violates the SLA in more than half of ``--seeds`` twin rollouts of
the scenario. The prescreen (``agents/twm_agents/llm/prescreen.py``) screens the nominal load, so it
should reject every candidate unsafe with no shock (recall in the calm twin,
``Scenario.without_shocks``) and only candidates unsafe in the scenario itself (precision); a plan
that fails only under a shock passes it. Prints, per scenario, how many it keeps, precision, both
recalls, and its time; ``--json`` writes the counts (not the times), ``--table`` prints their
markdown table (``docs/explanation/llm.md`` shows that of the shipped record).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twm_agents.llm.prescreen import prescreen
from twm_gym.core.candidates import CandidateLibrary, candidate_library
from twm_gym.core.params import Scenario
from twm_gym.core.sim import Simulation
from twm_gym.scenarios import load_scenario

SEED0 = 70_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--scenarios", nargs="+", default=["hotspot-id", "wave-id", "hotspot-ood", "wave-ood"])
    parser.add_argument("--json", type=Path, help="write the counts per scenario here")
    parser.add_argument("--table", type=Path, help="print the markdown table of a written record; run nothing")
    args = parser.parse_args()
    if args.table:
        print(table(json.loads(args.table.read_text())))
        return
    rows: list[dict[str, Any]] = []
    for name in args.scenarios:
        sc = load_scenario(name)
        lib = candidate_library(sc)
        t0 = time.perf_counter()
        screen = prescreen(load_scenario(sc.nominal), lib)  # the prescreen sees the nominal model only
        elapsed = time.perf_counter() - t0
        unsafe, calm = (_unsafe(s, lib, args.seeds) for s in (sc, sc.without_shocks()))
        rejected = ~screen.keep
        tp = int((rejected & unsafe).sum())
        precision = tp / max(int(rejected.sum()), 1)
        recall = tp / max(int(unsafe.sum()), 1)
        recall_calm = int((rejected & calm).sum()) / max(int(calm.sum()), 1)
        print(
            f"{name:12s} keeps {int(screen.keep.sum()):3d}/{len(lib)}, twin-unsafe {int(unsafe.sum()):3d} "
            f"(calm {int(calm.sum()):3d}), rejected {int(rejected.sum()):3d}: precision {precision:.3f}, "
            f"recall {recall:.3f} (calm {recall_calm:.3f}) ({elapsed * 1e3:.1f} ms)"
        )
        rows.append(
            {
                "scenario": name,
                "kept": int(screen.keep.sum()),
                "candidates": len(lib),
                "unsafe": int(unsafe.sum()),
                "unsafe_calm": int(calm.sum()),
                "rejected": int(rejected.sum()),
                "precision": precision,
                "recall": recall,
                "recall_calm": recall_calm,
            }
        )
    if args.json:
        args.json.write_text(json.dumps({"seeds": args.seeds, "rows": rows}, indent=1) + "\n")


def table(record: dict[str, Any]) -> str:
    """Markdown: per scenario, what the prescreen keeps and rejects against the twin's verdict."""
    lines = [
        f"| scenario | kept / {record['rows'][0]['candidates']} | twin-unsafe (calm) | rejected | precision | recall "
        "| recall (calm) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in record["rows"]:
        lines.append(
            f"| {r['scenario']} | {r['kept']} | {r['unsafe']} ({r['unsafe_calm']}) | {r['rejected']} | "
            f"{r['precision']:.3f} | {r['recall']:.3f} | {r['recall_calm']:.3f} |"
        )
    return "\n".join(lines)


def _unsafe(scenario: Scenario, lib: CandidateLibrary, seeds: int) -> NDArray[np.bool_]:
    """Candidates violating the SLA in more than half of ``seeds`` rollouts of ``scenario``."""
    idx = np.repeat(np.arange(len(lib)), seeds)
    sim = Simulation(scenario, np.tile(np.arange(seeds) + SEED0, len(lib)))
    for t in range(scenario.horizon):
        sim.step(lib.p[idx, t], lib.b[idx, t])
    return sim.kpis().global_violation.reshape(len(lib), seeds).mean(axis=1) > 0.5


if __name__ == "__main__":
    main()
