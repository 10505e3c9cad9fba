"""CDWM speed: scoring 256 candidates x 12 steps x 3 members, beside the twin's 256 rollouts.

    python benchmarks/perf/perf_cdwm.py            # with the shipped checkpoint
    python benchmarks/perf/perf_cdwm.py --train    # also time `train(CDWMConfig())` end to end

"Scoring" is ``CDWMModel.rank`` from an episode's start: filter the history, imagine every
candidate's 12 steps with every member, join them to the episode formulas, exact costs, utility
and violation probability. The twin figure is the same 256 candidates rolled out once each
(one exogenous future), measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from twm_agents.cdwm.evaluate import start_states
from twm_agents.cdwm.predictor import CDWMModel
from twm_gym.core.candidates import candidate_library
from twm_gym.core.sim import Simulation
from twm_gym.scenarios import load_scenario


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--train", action="store_true", help="also time the default training run")
    args = parser.parse_args()
    sc = load_scenario("hotspot-id")
    model = CDWMModel.default()
    lib = candidate_library(sc)
    start = start_states(sc, [1], t0=0)[0]
    print(f"device {model.device}, torch threads {torch.get_num_threads()}, members {model.shape.members}")
    for samples in (1, 8):

        def rank(s: int = samples) -> object:
            return model.rank(sc, start.obs, start.act, start.kpi, lib.p, lib.b, samples=s)

        ms = _median_ms(rank, args.repeats)
        print(f"rank 256 candidates x 12 steps x {model.shape.members} members, {samples} sample(s): {ms:.1f} ms")

    def twin() -> None:
        sim = Simulation(sc, np.full(len(lib), 7), start=start.snapshot)
        for t in range(sc.horizon):
            sim.step(lib.p[:, t], lib.b[:, t])

    print(f"twin: the same 256 candidates x 12 steps (one future each): {_median_ms(twin, args.repeats):.1f} ms")
    seconds = model.meta.get("seconds", {})
    print(f"shipped checkpoint's recorded training time: {seconds.get('total', '?')} s")
    if args.train:
        from twm_agents.cdwm.train import CDWMConfig, train

        t0 = time.perf_counter()
        trained = train(CDWMConfig(), None, progress=None)
        m = trained.meta["metrics"]["id"]
        elapsed = time.perf_counter() - t0
        print(f"train(CDWMConfig()): {elapsed:.1f} s; ID PICP {m['picp']:.3f} (targets: <= 900 s, 0.87-0.93)")


if __name__ == "__main__":
    main()
