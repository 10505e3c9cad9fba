"""Ranking quality of a CDWM on the cities of each scenario split: does one checkpoint rank anywhere?

    python benchmarks/studies/cdwm_cities.py --checkpoint runs/cdwm-sets [--splits train test-cities ...]

For every ID scenario of each split, ``--states`` held-out start states at steps 0, 3 and 6
(``agents/twm_agents/cdwm/evaluate.py``: the logging policy plays up to the step, every library
candidate plays on over ``--futures`` shared exogenous continuations of the twin) and Spearman's
correlation over the 256 candidates between the CDWM's predicted utility and the twin's. Prints
one line per scenario and step, then the mean per split. A checkpoint with the ``sets`` encoding
reads any city; a flat one only the city it was trained on. One torch thread (set here).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from twm_agents.cdwm.evaluate import RANKING_SEED0, ranking_quality
from twm_agents.cdwm.predictor import CDWMModel
from twm_gym.scenarios import load_scenario
from twm_gym.scenarios.splits import SPLIT_NAMES, split_scenarios

STEPS = (0, 3, 6)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="", help="a CDWM checkpoint path or shipped name ('' for default)")
    parser.add_argument("--splits", nargs="+", default=["train", "test-families", "test-cities", "paper"])
    parser.add_argument("--states", type=int, default=2, help="start states per scenario and step (default 2)")
    parser.add_argument("--futures", type=int, default=16, help="twin continuations per candidate (default 16)")
    args = parser.parse_args(argv)
    bad = sorted(set(args.splits) - set(SPLIT_NAMES))
    if bad:
        parser.error(f"--splits: {bad} are not splits; choose from {list(SPLIT_NAMES)}")
    torch.set_num_threads(1)  # ranking is small tensors: one thread is fastest on a busy CPU
    torch.manual_seed(0)
    model = CDWMModel.named(args.checkpoint)
    samples = int(model.meta.get("config", {}).get("samples", 8))
    seeds = list(range(RANKING_SEED0, RANKING_SEED0 + args.states))
    means = {}
    for split in args.splits:
        rhos = []
        for name in (n for n in split_scenarios(split) if not load_scenario(n).ood):
            scenario = load_scenario(name)
            for t0 in STEPS:
                start = time.perf_counter()
                r = ranking_quality(model, scenario, seeds, t0=t0, futures=args.futures, samples=samples)
                rhos.append(r["spearman"])
                print(
                    f"{split:14s} {name.split('/')[-1]:52s} t0={t0} spearman {r['spearman']:+.3f} "
                    f"({time.perf_counter() - start:.1f} s)",
                    flush=True,
                )
        means[split] = float(np.mean(rhos))
    print("\nmean Spearman over ID scenarios, steps and start states:")
    for split, value in means.items():
        print(f"  {split:14s} {value:.3f}")


if __name__ == "__main__":
    main()
