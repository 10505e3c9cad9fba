"""FWM speed: scoring 256 candidates (the planner's call), raw inference, and training time.

    python benchmarks/perf/perf_fwm.py            # inference, with the shipped checkpoint
    python benchmarks/perf/perf_fwm.py --train    # also time `train(FWMConfig())` end to end

Scoring includes everything the planner pays for: the persistence view of the exogenous state,
painting the channels, the ensemble's forward pass and the conformal intervals.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from twm_agents.fwm.fields import config_channels, exo_channels
from twm_agents.fwm.predictor import FieldModel
from twm_agents.fwm.scorer import FieldScorer
from twm_gym.core.candidates import candidate_library
from twm_gym.core.compiled import compile_scenario
from twm_gym.core.egw import drivers_of, initial_egw, roll
from twm_gym.core.rng import seed_keys
from twm_gym.scenarios import load_scenario


def _times(fn: object, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--train", action="store_true", help="also time the default training run")
    args = parser.parse_args()
    sc = load_scenario("hotspot-id")
    model = FieldModel.default(scenario=sc)
    scorer = FieldScorer(model, sc)
    comp, lib = compile_scenario(sc), candidate_library(sc)
    path = roll(comp, initial_egw(comp, 1), seed_keys(np.array([3])), 0, 6)
    state, t = path.state(4), 5
    p, b = lib.p[:, t], lib.b[:, t]
    print(f"device {model.device}, torch threads {torch.get_num_threads()}, members {model.shape.members}")
    scorer.score(state, t, p, b)  # warm-up
    times = _times(lambda: scorer.score(state, t, p, b), args.repeats)
    print(
        f"score 256 candidates: median {statistics.median(times) * 1e3:.1f} ms, "
        f"best {min(times) * 1e3:.1f} ms (target <= 50 ms)"
    )
    drv = drivers_of(comp, state, t)
    spatial, config = exo_channels(scorer.geom, drv), config_channels(scorer.geom, drv, p, b)
    paint = _times(lambda: (exo_channels(scorer.geom, drv), config_channels(scorer.geom, drv, p, b)), args.repeats)
    shared = _times(lambda: model.predict_shared(spatial, config), args.repeats)
    x = scorer.channels(state, t, p, b)
    full = _times(lambda: model.predict(x, with_field=False), max(3, args.repeats // 4))
    print(
        f"  of which channels {statistics.median(paint) * 1e3:.1f} ms, encoder once + 256 readouts + intervals "
        f"{statistics.median(shared) * 1e3:.1f} ms (the encoder run per candidate instead: "
        f"{statistics.median(full) * 1e3:.1f} ms)"
    )
    big = np.repeat(x, 4, axis=0)
    t_big = statistics.median(_times(lambda: model.predict(big, with_field=True), max(3, args.repeats // 4)))
    print(f"features + SINR maps, batch 1024: {1024 / t_big:,.0f} samples/s")
    meta = model.meta.get("seconds", {})
    print(f"shipped checkpoint's recorded training time: {meta.get('total', '?')} s (data {meta.get('data', '?')} s)")
    if args.train:
        from twm_agents.fwm.train import FWMConfig, train

        t0 = time.perf_counter()
        trained = train(FWMConfig(), None, progress=None)
        m = trained.meta["metrics"]["test"]
        print(
            f"train(FWMConfig()): {time.perf_counter() - t0:.1f} s; held-out ID R2 {m['r2']:.4f}, "
            f"PICP {m['picp']:.3f} (targets: <= 300 s, R2 >= 0.99, PICP 0.87-0.93)"
        )


if __name__ == "__main__":
    main()
