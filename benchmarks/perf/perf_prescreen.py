"""Precision and recall of the embedded prescreen against the twin's ground truth.

    python benchmarks/perf/perf_prescreen.py [--seeds 16]

A candidate is *unsafe* if it violates the SLA in more than half of ``--seeds`` twin rollouts of
the scenario. The prescreen (``agents/twm_agents/llm/prescreen.py``) screens the nominal load, so it
should reject every candidate unsafe with no shock (recall in the calm twin,
``Scenario.without_shocks``) and only candidates unsafe in the scenario itself (precision); a plan
that fails only under a shock passes it. Prints, per scenario, how many it keeps, precision, both
recalls, and its time.
"""

from __future__ import annotations

import argparse
import time

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
    args = parser.parse_args()
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


def _unsafe(scenario: Scenario, lib: CandidateLibrary, seeds: int) -> NDArray[np.bool_]:
    """Candidates violating the SLA in more than half of ``seeds`` rollouts of ``scenario``."""
    idx = np.repeat(np.arange(len(lib)), seeds)
    sim = Simulation(scenario, np.tile(np.arange(seeds) + SEED0, len(lib)))
    for t in range(scenario.horizon):
        sim.step(lib.p[idx, t], lib.b[idx, t])
    return sim.kpis().global_violation.reshape(len(lib), seeds).mean(axis=1) > 0.5


if __name__ == "__main__":
    main()
