"""How much of the uniform -> oracle gap can a planner that commits at t = 0 close at best?

    python benchmarks/planner_bounds.py [--nominal-seeds 64] [--seeds 32]

For each paper scenario: every one of the 256 library candidates is rolled out on
``--nominal-seeds`` seeds of the scenario's *nominal* model from the start (an unlimited, perfect
twin: what a flawless world model trained on ID data would predict), the best by mean utility is
picked, and that one policy is scored on the benchmark's evaluation episodes (seeds 0..``--seeds``-1,
the paper preset's). Printed: utility of uniform, of the pick and of the hindsight oracle, and the
share of the gap the pick closes. No agent with a budget of 12 calls per horizon and imperfect
models can beat this open-loop bound by choosing once at t = 0; only re-planning during the
episode (Phase 2) can, and in the OOD scenarios the nominal model itself is wrong.
"""

from __future__ import annotations

import argparse

import numpy as np

from agents.base import AGENT_SEED_DOMAIN, ScenarioCard
from benchmarks.runner import evaluation_exo_seed
from benchmarks.spec import PAPER_SCENARIOS
from twm_gym.core.rng import domain_seeds
from twm_gym.core.twin import simulate
from twm_gym.scenarios import load_scenario


def bound(name: str, nominal_seeds: int, seeds: int) -> dict[str, float]:
    """Mean utilities of uniform, the nominal-best candidate and the oracle on ``seeds`` episodes."""
    scenario = load_scenario(name)
    card = ScenarioCard.of(scenario)
    lib, n = card.library, len(card.library)
    nominal = domain_seeds(np.arange(nominal_seeds), AGENT_SEED_DOMAIN)
    planned = simulate(
        card.nominal, lib.p.repeat(nominal_seeds, 0), lib.b.repeat(nominal_seeds, 0), np.tile(nominal, n)
    )
    pick = int(np.argmax(planned.utility.reshape(n, nominal_seeds).mean(axis=1)))
    truth_seeds = np.array([evaluation_exo_seed(scenario, s) for s in range(seeds)])
    truth = simulate(scenario, lib.p.repeat(seeds, 0), lib.b.repeat(seeds, 0), np.tile(truth_seeds, n))
    table = truth.utility.reshape(n, seeds)
    third = np.full_like(lib.p[0], 1 / 3), np.full_like(lib.b[0], 1 / 3)
    uniform = simulate(scenario, third[0], third[1], truth_seeds).utility
    u, best, oracle = float(uniform.mean()), float(table[pick].mean()), float(table.max(axis=0).mean())
    return {"uniform": u, "pick": best, "oracle": oracle, "closed": (best - u) / (oracle - u), "candidate": pick}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nominal-seeds", type=int, default=64, help="nominal-model seeds per candidate (default 64)")
    parser.add_argument("--seeds", type=int, default=32, help="evaluation episodes per scenario (default 32)")
    args = parser.parse_args()
    closed = []
    print("| scenario | uniform | nominal-best at t=0 | oracle | gap closed |")
    print("|---|---|---|---|---|")
    for name in PAPER_SCENARIOS:
        r = bound(name, args.nominal_seeds, args.seeds)
        closed.append(r["closed"])
        pick = f"{r['pick']:.3f} (#{r['candidate']})"
        print(f"| {name} | {r['uniform']:.3f} | {pick} | {r['oracle']:.3f} | {r['closed']:.0%} |")
    print(f"| average | | | | {np.mean(closed):.0%} |")


if __name__ == "__main__":
    main()
