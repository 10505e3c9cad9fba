"""Decision latency of the TWM planner on this CPU: Phase 1 per horizon, Phase 2 per step.

    python benchmarks/perf/perf_planner.py [--episodes 4] [--threads 1]

Plays ``--episodes`` evaluation episodes of each paper scenario with the planner (the paper's
budget, 12 simulator calls per horizon) and prints the median and 90th percentile of the Phase-1
wall time (surrogates, prescreen, ranking; the simulator verification apart) and of Phase 2 per
later step. Targets (issue 8): Phase 1 <= 2 s, Phase 2 <= 50 ms.
"""

from __future__ import annotations

import argparse
import os
import time


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="torch / BLAS threads (as in a harness worker)")
    parser.add_argument("--agent", default="twm")
    args = parser.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import numpy as np
    import torch

    from twm_agents.base import AGENT_SEED_DOMAIN, ScenarioCard
    from twm_agents.registry import make_agent
    from twm_bench.runner import _context, run_episode
    from twm_bench.spec import CALLS_PER_HORIZON, PAPER_SCENARIOS
    from twm_gym.core.twin import Twin
    from twm_gym.scenarios import load_scenario

    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    agent = make_agent(args.agent)
    print(f"{args.agent}: models loaded in {time.perf_counter() - start:.2f} s; torch threads {args.threads}")
    phase1, verify, phase2 = [], [], []
    for name in PAPER_SCENARIOS:
        scenario = load_scenario(name)
        card = ScenarioCard.of(scenario)
        twin = Twin(card.nominal, budget=CALLS_PER_HORIZON * args.episodes, seed_domain=AGENT_SEED_DOMAIN)
        rng = np.random.default_rng(0)
        agent.prepare(_context(card, twin, rng, episode=-1))
        for episode in range(args.episodes):
            run_episode(agent, scenario, 1000 + episode, twin, rng, episode=episode)
            timing = agent._timing  # type: ignore[attr-defined]
            phase1 += timing["phase1_ms"]
            verify += timing["verify_ms"]
            phase2 += timing["phase2_ms"]
    for label, values, target in (
        ("Phase 1 per horizon", phase1, "<= 2000 ms"),
        ("verification (12 sim calls)", verify, "reported apart"),
        ("Phase 2 per step", phase2, "<= 50 ms"),
    ):
        if values:
            v = np.asarray(values)
            print(
                f"{label:30s} median {np.median(v):8.1f} ms   p90 {np.percentile(v, 90):8.1f} ms   "
                f"n {len(v):4d}   target {target}"
            )


if __name__ == "__main__":
    main()
