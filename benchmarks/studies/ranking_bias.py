"""What the CDWM's pick gives up at t = 0, and where its errors lie, against a perfect nominal model.

    python benchmarks/studies/ranking_bias.py [--scenarios wave-id hotspot-id] [--states 16] [--futures 16]
    python benchmarks/studies/ranking_bias.py --scenarios wave-id --checkpoint default   # the joint CDWM

For each scenario, ``--states`` held-out episode starts (t = 0; the ranking evaluation's seed
range, ``agents/twm_agents/cdwm/evaluate.py``; an OOD scenario's nominal twin is its ID one, so hotspot-ood and
wave-ood repeat hotspot-id and wave-id). From each, every one of the 256 library candidates is rolled
out on the scenario's nominal twin over two independent sets of ``--futures`` exogenous
continuations: the *pick* set and the *score* set (the same futures for every candidate). The
CDWM ranks the library as the planner's Phase 1 does (``samples`` draws per member; by default the
checkpoint the planner uses, ``default``; ``--checkpoint`` names another shipped one or a path). Printed:

* per transport weighting of the library (``<radio>/<transport>/<profile>/<scale>``), the CDWM's
  mean predicted minus twin utility (on the score set): a family the model over- or under-rates;
  and beside it each slice's SLA violation rate, imagined by the CDWM (its raw draws, before the
  calibration of the global probability) and in the twin: which slice the error comes from;
* per transport weighting, how widely the futures spread: the standard deviation over futures of
  each slice's episode loss and of the URLLC d99 (ms), over the CDWM's draws (members x samples)
  and over the twin's score set, averaged over the family's plans and the starts. A model whose
  futures spread too little puts a plan's violation probability near 0 or 1 by the side of the
  threshold its mean lies on;
* the twin outcome (score set: SCM, P_g, Δcost, utility) of three picks per start state: the CDWM's
  best-scored candidate, and a perfect model's best on the pick set by the benchmark's utility and
  by SCM alone. Picking on one set and scoring on the other keeps the perfect picks honest (no
  selection on the futures they are scored on).

Whether the planner's SCM in a scenario is limited by its objective (the utility's violation
penalty) or by its model's ranking: if the perfect utility pick and the perfect SCM pick have the
same SCM, the objective costs nothing, and what the CDWM's pick gives up is model error.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch

from twm_agents.base import ScenarioCard
from twm_agents.cdwm.evaluate import RANKING_SEED0, start_states
from twm_agents.cdwm.predictor import DEFAULT_CHECKPOINT, CDWMModel
from twm_agents.cdwm.utility import episode_from_steps
from twm_bench.spec import PAPER_SCENARIOS
from twm_gym.core.kpi import KPIs, Utility
from twm_gym.core.params import SLICES
from twm_gym.core.rng import domain_seeds
from twm_gym.core.sim import Simulation
from twm_gym.core.state import Snapshot
from twm_gym.scenarios import load_scenario

_BIAS_DOMAIN = 0x42494153  # futures of this script, apart from every other seed stream
_SEED_OFFSET = 50_000  # start states apart from those the ranking evaluation reports


@dataclass(frozen=True)
class Bias:
    """One scenario's measurement: outcomes are (SCM, P_g, Δcost, utility) means over the starts."""

    family_bias: dict[str, float]  # transport weighting -> mean CDWM predicted - twin utility
    family_violation: dict[str, tuple[tuple[float, ...], tuple[float, ...]]]  # -> per-slice rates: CDWM, twin
    family_spread: dict[str, tuple[tuple[float, ...], tuple[float, ...]]]  # -> sd of loss per slice, d99: CDWM, twin
    picks: dict[str, tuple[float, float, float, float]]  # pick -> its twin outcome on the score set


def _library_outcomes(card: ScenarioCard, snapshot: Snapshot, seeds: np.ndarray) -> KPIs:
    """KPIs of every candidate (candidate-major) on the futures ``seeds`` from ``snapshot``."""
    lib, n, k = card.library, len(card.library), len(seeds)
    sim = Simulation(card.nominal, np.tile(seeds, n), start=snapshot)
    idx = np.repeat(np.arange(n), k)
    for t in range(card.horizon):
        sim.step(lib.p[idx, t], lib.b[idx, t])
    return sim.kpis()


def _spread(kpis: KPIs, futures: int) -> np.ndarray:
    """``(N, slices + 1)`` per candidate (candidate-major rows): the standard deviation over its
    ``futures`` of each slice's episode loss and of the d99 (ms)."""
    loss = np.asarray(kpis.loss, np.float64).reshape(-1, futures, kpis.loss.shape[-1]).std(axis=1)
    d99 = np.asarray(kpis.d99_ms, np.float64).reshape(-1, futures).std(axis=1)
    return np.concatenate([loss, d99[:, None]], axis=1)


def _pairs(per_start: dict[str, list[np.ndarray]]) -> dict[str, tuple[tuple[float, ...], tuple[float, ...]]]:
    """Family -> (CDWM, twin) rows averaged over the starts."""
    means = {f: np.mean(v, axis=0) for f, v in per_start.items()}
    return {f: (tuple(float(x) for x in mv[0]), tuple(float(x) for x in mv[1])) for f, mv in means.items()}


def measure(name: str, states: int, futures: int, samples: int = 4, checkpoint: str = "") -> Bias:
    """Per-family prediction bias and the three picks' mean twin outcomes over ``states`` starts,
    with the CDWM ``checkpoint`` (a shipped name or a path; '' for the planner's in this scenario)."""
    card = ScenarioCard.of(load_scenario(name))
    lib, n = card.library, len(card.library)
    checkpoint = checkpoint or DEFAULT_CHECKPOINT
    model = CDWMModel.named(checkpoint, device="cpu")
    utility = Utility()
    torch.manual_seed(0)
    seeds = [RANKING_SEED0 + _SEED_OFFSET + i for i in range(states)]
    family = np.array([c.split("/")[1].split("@")[0] for c in lib.names])  # the focus plans: one family
    bias: dict[str, list[float]] = defaultdict(list)
    violation: dict[str, list[np.ndarray]] = defaultdict(list)  # per start: (2, slices) CDWM and twin
    spread: dict[str, list[np.ndarray]] = defaultdict(list)  # per start: (2, slices + 1) CDWM and twin
    picks: dict[str, list[list[float]]] = defaultdict(list)
    for i, start in enumerate(start_states(card.nominal, seeds, 0)):
        both = domain_seeds(np.arange(2 * futures) + 2 * futures * i, _BIAS_DOMAIN)
        pick_set = _library_outcomes(card, start.snapshot, both[:futures])
        score_set = _library_outcomes(card, start.snapshot, both[futures:])

        def mean(values: np.ndarray) -> np.ndarray:  # per candidate, over the futures
            return np.asarray(values, np.float64).reshape(n, futures).mean(axis=1)

        u_pick, scm_pick = mean(utility(pick_set)), mean(pick_set.scm)
        outcome = (
            mean(score_set.scm),
            mean(score_set.global_violation),
            mean(score_set.delta_cost),
            mean(utility(score_set)),
        )
        ranked = model.rank(card.nominal, start.obs, start.act, start.kpi, lib.p, lib.b, samples=samples)
        score = ranked.utility - 0.5 * ranked.disagreement  # the planner's ranking score (pessimism 0.5)
        draws = ranked.imagined.draws  # (M, N, S, H, K): no history at t = 0, the draws are the episode
        m, _, s, h, k = draws.shape
        imagined = episode_from_steps(card.nominal, draws.transpose(1, 0, 2, 3, 4).reshape(n * m * s, h, k))
        predicted_v = imagined.violation.reshape(n, m * s, -1).mean(axis=1)
        twin_v = np.asarray(score_set.violation, np.float64).reshape(n, futures, -1).mean(axis=1)
        predicted_sd, twin_sd = _spread(imagined, m * s), _spread(score_set, futures)
        for f in np.unique(family):
            bias[str(f)].append(float(np.mean(ranked.utility[family == f] - outcome[3][family == f])))
            violation[str(f)].append(
                np.stack([predicted_v[family == f].mean(axis=0), twin_v[family == f].mean(axis=0)])
            )
            spread[str(f)].append(np.stack([predicted_sd[family == f].mean(axis=0), twin_sd[family == f].mean(axis=0)]))
        for label, j in (
            ("CDWM's top", int(np.argmax(score))),
            ("perfect model, utility", int(np.argmax(u_pick))),
            ("perfect model, SCM alone", int(np.argmax(scm_pick))),
        ):
            picks[label].append([float(o[j]) for o in outcome])
    means = {k: np.mean(np.asarray(v), axis=0) for k, v in picks.items()}
    return Bias(
        family_bias={f: float(np.mean(v)) for f, v in bias.items()},
        family_violation=_pairs(violation),
        family_spread=_pairs(spread),
        picks={k: (float(m[0]), float(m[1]), float(m[2]), float(m[3])) for k, m in means.items()},
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=["wave-id", "hotspot-id"], choices=PAPER_SCENARIOS)
    parser.add_argument("--states", type=int, default=16, help="episode starts per scenario")
    parser.add_argument("--futures", type=int, default=16, help="futures per set (pick and score)")
    parser.add_argument("--checkpoint", default="", help="CDWM: a shipped name or a path (default: the planner's)")
    args = parser.parse_args(argv)
    for flag in ("states", "futures"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag}: must be >= 1, got {getattr(args, flag)}")
    for name in args.scenarios:
        out = measure(name, args.states, args.futures, checkpoint=args.checkpoint)
        used = args.checkpoint or DEFAULT_CHECKPOINT
        print(f"{name} (CDWM {used!r}; nominal twin; {args.states} starts, {args.futures} + {args.futures} futures)")
        slices = " / ".join(SLICES)
        print(f"| transport weighting | CDWM predicted − twin utility | violation rate {slices}: CDWM | twin |")
        print("|---|---|---|---|")
        for f, v in sorted(out.family_bias.items()):
            predicted, twin = out.family_violation[f]
            cells = (" / ".join(f"{x:.2f}" for x in rates) for rates in (predicted, twin))
            print(f"| {f} | {v:+.3f} | {' | '.join(cells)} |")
        print(f"| transport weighting | spread over futures, sd of loss {slices} and of d99 (ms): CDWM | twin |")
        print("|---|---|---|")
        for f, (predicted, twin) in sorted(out.family_spread.items()):
            cells = (" / ".join([*(f"{x:.3f}" for x in sd[:-1]), f"{sd[-1]:.0f}"]) for sd in (predicted, twin))
            print(f"| {f} | {' | '.join(cells)} |")
        print("| pick | SCM % | P_g | Δcost % | utility |")
        print("|---|---|---|---|---|")
        for label, (scm, pg, dc, u) in out.picks.items():
            print(f"| {label} | {100 * scm:.1f} | {pg:.2f} | {100 * dc:+.1f} | {u:+.3f} |")
        print()


if __name__ == "__main__":
    main()
