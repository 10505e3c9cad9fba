"""Precision and recall of the embedded prescreen against the twin's ground truth.

    python benchmarks/perf/perf_prescreen.py [--seeds 16]

A candidate is *unsafe* if it violates the SLA in more than half of ``--seeds`` twin rollouts of
the scenario; the prescreen (``agents/twm_agents/llm/prescreen.py``) should reject exactly those. Prints, per
scenario, how many it keeps, precision and recall of its rejections, and its time.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from twm_agents.llm.prescreen import prescreen
from twm_gym.core.candidates import candidate_library
from twm_gym.core.sim import Simulation
from twm_gym.scenarios import load_scenario

SEED0 = 70_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--scenarios", nargs="+", default=["hotspot-id", "wave-id", "hotspot-ood", "wave-ood"])
    args = parser.parse_args()
    for name in args.scenarios:
        sc = load_scenario(name)
        lib = candidate_library(sc)
        t0 = time.perf_counter()
        screen = prescreen(load_scenario(sc.nominal), lib)  # the prescreen sees the nominal model only
        elapsed = time.perf_counter() - t0
        idx = np.repeat(np.arange(len(lib)), args.seeds)
        sim = Simulation(sc, np.tile(np.arange(args.seeds) + SEED0, len(lib)))
        for t in range(sc.horizon):
            sim.step(lib.p[idx, t], lib.b[idx, t])
        unsafe = sim.kpis().global_violation.reshape(len(lib), args.seeds).mean(axis=1) > 0.5
        rejected = ~screen.keep
        tp = int((rejected & unsafe).sum())
        precision = tp / max(int(rejected.sum()), 1)
        recall = tp / max(int(unsafe.sum()), 1)
        print(
            f"{name:12s} keeps {int(screen.keep.sum()):3d}/256, twin-unsafe {int(unsafe.sum()):3d}, "
            f"rejected {int(rejected.sum()):3d}: precision {precision:.3f}, recall {recall:.3f} "
            f"({elapsed * 1e3:.1f} ms)"
        )


if __name__ == "__main__":
    main()
