"""How much of the uniform -> oracle gap can a planner close with a perfect nominal model?

    python benchmarks/studies/planner_bounds.py [--nominal-seeds 64] [--seeds 32]
    python benchmarks/studies/planner_bounds.py --closed-loop [--nominal-seeds 32] [--workers 2]
    python benchmarks/studies/planner_bounds.py --cost-weights 0.5 1 1.5
    python benchmarks/studies/planner_bounds.py --trims 0.9 0.8
    python benchmarks/studies/planner_bounds.py --fixed [--seeds 128 --first-seed 100]

For each paper scenario: every one of the 256 library candidates is rolled out on
``--nominal-seeds`` seeds of the scenario's *nominal* model from the start (an unlimited, perfect
twin: what a flawless world model trained on ID data would predict), the best by mean utility is
picked, and that one policy is scored on the benchmark's evaluation episodes (seeds 0..``--seeds``-1,
the paper preset's). Printed: utility of uniform, of the pick and of the hindsight oracle, and the
share of the gap the pick closes. No agent with a budget of 12 calls per horizon and imperfect
models can beat this open-loop bound by choosing once at t = 0; only re-planning during the
episode (Phase 2) can, and in the OOD scenarios the nominal model itself is wrong.

``--closed-loop`` measures what re-planning can reach: :class:`ReplanBound` plays each evaluation
episode and, at *every* step, rolls the executing plan and each library candidate's remaining
steps out from the live snapshot on ``--nominal-seeds`` seeds of the nominal model (common seeds;
257 x 32 rollouts per step, no budget), switching when a candidate's mean utility beats the plan's
by ``--margin``. It is TWM's Phase 2 with a perfect nominal model and unlimited simulation: the
ceiling on what better world models could bring this planner. The snapshot holds what the
observations do not show (how many steps each shock and link failure still lasts, its
intensity), so the ceiling is on model accuracy and information together.

``--cost-weights`` asks what the same perfect-model pick costs: for each weight ``w`` of Δcost in the
utility it is picked by (``SCM + w dcost - 1[violation]``; the benchmark scores with 0.5), the pick's
SCM, Δcost and violation rate on the evaluation episodes, and its utility under the benchmark's
weights. Whether a planner that maximizes the benchmark's utility can also save cost here.

``--trims`` asks the same of a plan outside the library: the perfect-model pick against copies with
one slice's radio and transport shares scaled by each factor (the planner's ``trims``), the best by
the same nominal utility played; its SCM, Δcost, violation rate and utility on the evaluation
episodes beside the untrimmed pick's.

``--fixed`` asks whether the plan a perfect nominal model picks is the best one to commit to in
the scenario actually played: the nominal pick by utility and by SCM against the best single
library plan in hindsight (the one with the highest mean SCM, or utility, over these evaluation
episodes, chosen knowing them), each with its SCM, Δcost, violation rate and utility. In an OOD
scenario the two may differ, and then no planner ranking by a model of the nominal world commits to
the hindsight plan at t = 0.

``--first-seed`` moves the evaluation episodes to ``first .. first + seeds - 1`` (not with
``--closed-loop``), e.g. to the tuning seeds ``benchmarks/studies/paired.py`` plays.
"""

from __future__ import annotations

import argparse
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from twm_agents.base import AGENT_SEED_DOMAIN, Action, Agent, EpisodeContext, Observation, ScenarioCard
from twm_bench.runner import evaluation_exo_seed, one_thread_per_process, run_unit
from twm_bench.spec import PAPER_SCENARIOS
from twm_gym.core.kpi import Utility
from twm_gym.core.params import SLICES, Scenario
from twm_gym.core.rng import domain_seeds
from twm_gym.core.twin import Rollout, simulate
from twm_gym.scenarios import load_scenario


def _library_rollouts(
    name: str, nominal_seeds: int, seeds: int, first: int = 0
) -> tuple[Scenario, Rollout, Rollout, NDArray[Any]]:
    """Every library candidate on ``nominal_seeds`` seeds of the nominal model (what a perfect model
    predicts; candidate-major rows) and on the evaluation episodes ``first..first+seeds-1`` (the
    truth), with those episodes' exogenous seeds."""
    scenario = load_scenario(name)
    card = ScenarioCard.of(scenario)
    lib, n = card.library, len(card.library)
    nominal = domain_seeds(np.arange(nominal_seeds), AGENT_SEED_DOMAIN)
    planned = simulate(
        card.nominal, lib.p.repeat(nominal_seeds, 0), lib.b.repeat(nominal_seeds, 0), np.tile(nominal, n)
    )
    truth_seeds = np.array([evaluation_exo_seed(scenario, s) for s in range(first, first + seeds)])
    truth = simulate(scenario, lib.p.repeat(seeds, 0), lib.b.repeat(seeds, 0), np.tile(truth_seeds, n))
    return scenario, planned, truth, truth_seeds


def _plan_means(values: NDArray[Any], plans: int) -> NDArray[Any]:
    """``(plans,)`` mean of each plan's rows (plan-major: every plan's seeds together)."""
    return values.reshape(plans, -1).mean(axis=1)


def bound(name: str, nominal_seeds: int, seeds: int, first: int = 0) -> dict[str, float]:
    """Mean utilities of uniform, the nominal-best candidate and the oracle on ``seeds`` episodes."""
    scenario, planned, truth, truth_seeds = _library_rollouts(name, nominal_seeds, seeds, first)
    lib = ScenarioCard.of(scenario).library
    n = len(lib)
    pick = int(np.argmax(_plan_means(planned.utility, n)))
    table = truth.utility.reshape(n, seeds)
    third = np.full_like(lib.p[0], 1 / 3), np.full_like(lib.b[0], 1 / 3)
    uniform = simulate(scenario, third[0], third[1], truth_seeds).utility
    u, best, oracle = float(uniform.mean()), float(table[pick].mean()), float(table.max(axis=0).mean())
    return {"uniform": u, "pick": best, "oracle": oracle, "closed": (best - u) / (oracle - u), "candidate": pick}


class ReplanBound(Agent):
    """Re-plans at every step over library switches with a perfect nominal model (no budget)."""

    name: ClassVar[str] = "replan-bound"

    def __init__(self, nominal_seeds: int = 32, margin: float = 0.05) -> None:
        super().__init__()
        self.nominal_seeds, self.margin = nominal_seeds, margin

    def reset(self, context: EpisodeContext) -> None:
        super().reset(context)
        self._plan: tuple[Any, Any] | None = None
        self.switches = 0

    def act(self, observation: Observation) -> Action:
        t, lib, k = self._t, self.ctx.card.library, self.nominal_seeds
        self._t += 1
        if self._plan is None:  # t = 0: every candidate; later: the plan (row 0) and every switch
            p, b = lib.p, lib.b
        else:
            p, b = np.concatenate([self._plan[0][None], lib.p]), np.concatenate([self._plan[1][None], lib.b])
        seeds = domain_seeds(np.arange(k) + k * (self.ctx.episode * 16 + t), AGENT_SEED_DOMAIN)
        m = p.shape[0]
        out = simulate(
            self.ctx.card.nominal,
            p[:, t:].repeat(k, 0),
            b[:, t:].repeat(k, 0),
            np.tile(seeds, m),
            start=self.ctx.snapshot(),
        )
        u = out.utility.reshape(m, k).mean(axis=1)
        best = int(np.argmax(u))
        if self._plan is None:
            self._plan = (lib.p[best].copy(), lib.b[best].copy())
        elif best > 0 and u[best] > u[0] + self.margin:
            self._plan[0][t:], self._plan[1][t:] = lib.p[best - 1, t:], lib.b[best - 1, t:]
            self.switches += 1
        return self.ctx.card.layout.pack(self._plan[0][t], self._plan[1][t])

    def metrics(self) -> dict[str, float]:
        return {"switches": float(self.switches)}


def _replan_unit(job: tuple[str, int, int, float]) -> tuple[str, dict[str, float]]:
    """Mean utility, switches, SCM and Δcost of :class:`ReplanBound` on evaluation seeds ``0..seeds-1``."""
    name, seeds, nominal_seeds, margin = job
    agent = ReplanBound(nominal_seeds=nominal_seeds, margin=margin)
    records = run_unit(ReplanBound.name, name, list(range(seeds)), 0, 0, "bound", agent=agent)
    return name, {
        "utility": float(np.mean([r.utility for r in records])),
        "switches": float(np.mean([r.metrics["switches"] for r in records])),
        "scm": float(np.mean([r.kpis["scm"] for r in records])),
        "delta_cost": float(np.mean([r.kpis["delta_cost"] for r in records])),
    }


def cost_tradeoff(
    name: str, weights: list[float], nominal_seeds: int, seeds: int, first: int = 0
) -> list[dict[str, float]]:
    """For each cost weight: the perfect-model pick's SCM, Δcost, P_g and benchmark utility on ``seeds`` episodes."""
    _, rollouts, truth, _ = _library_rollouts(name, nominal_seeds, seeds, first)
    planned, n = rollouts.kpis, truth.kpis.scm.shape[0] // seeds
    rows = []
    for w in weights:
        pick = int(np.argmax(_plan_means(Utility(w_cost=w)(planned), n)))
        rows.append({"weight": w, "candidate": pick, **_outcome(truth, pick, seeds)})
    return rows


def _outcome(truth: Rollout, row: int, seeds: int) -> dict[str, float]:
    """Mean SCM, Δcost, violation rate and utility of plan ``row`` of ``truth`` (plan-major, ``seeds`` each)."""
    at = slice(row * seeds, (row + 1) * seeds)
    return {
        "scm": float(truth.kpis.scm[at].mean()),
        "delta_cost": float(truth.kpis.delta_cost[at].mean()),
        "p_g": float(truth.kpis.global_violation[at].mean()),
        "utility": float(truth.utility[at].mean()),
    }


def _outcome_cells(r: dict[str, Any]) -> str:
    """The ``SCM % | Δcost % | P_g | utility |`` cells of a table row."""
    return f"{100 * r['scm']:.1f} | {100 * r['delta_cost']:+.1f} | {r['p_g']:.2f} | {r['utility']:+.3f} |"


def _print_outcomes(
    head: str,
    rows: Callable[[str], list[dict[str, Any]]],
    label: Callable[[dict[str, Any]], str],
) -> None:
    """A markdown table: ``head``, then per paper scenario its ``rows``, each ``label`` cells then the outcome."""
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for name in PAPER_SCENARIOS:
        for r in rows(name):
            print(f"| {name} | {label(r)} {_outcome_cells(r)}")


def trim_tradeoff(
    name: str, factors: list[float], nominal_seeds: int, seeds: int, first: int = 0
) -> list[dict[str, Any]]:
    """The perfect-model pick, then its best one-slice trim by nominal utility: both on ``seeds`` episodes."""
    scenario, planned, _, truth_seeds = _library_rollouts(name, nominal_seeds, seeds, first)
    card = ScenarioCard.of(scenario)
    lib = card.library
    pick = int(np.argmax(_plan_means(planned.utility, len(lib))))
    variants = [("pick", lib.p[pick], lib.b[pick])]
    for k, slice_name in enumerate(SLICES):
        for f in factors:
            p, b = lib.p[pick].copy(), lib.b[pick].copy()
            p[..., k] *= np.float32(f)
            b[..., k] *= np.float32(f)
            variants.append((f"{slice_name} x {f:g}", p, b))
    pp, bb = np.stack([v[1] for v in variants]), np.stack([v[2] for v in variants])
    nominal = domain_seeds(np.arange(nominal_seeds), AGENT_SEED_DOMAIN)
    m = len(variants)
    guess = simulate(card.nominal, pp.repeat(nominal_seeds, 0), bb.repeat(nominal_seeds, 0), np.tile(nominal, m))
    best = int(np.argmax(guess.utility.reshape(m, nominal_seeds).mean(axis=1)))
    truth = simulate(scenario, pp.repeat(seeds, 0), bb.repeat(seeds, 0), np.tile(truth_seeds, m))
    return [{"plan": f"#{pick} {variants[i][0]}" if i else f"#{pick}", **_outcome(truth, i, seeds)} for i in (0, best)]


def fixed_plans(name: str, nominal_seeds: int, seeds: int, first: int = 0) -> list[dict[str, Any]]:
    """The perfect nominal model's picks (by utility, by SCM) and the best fixed plans in hindsight
    (by SCM, by utility) on ``seeds`` episodes: each plan's name and outcome there."""
    scenario, planned, truth, _ = _library_rollouts(name, nominal_seeds, seeds, first)
    lib = ScenarioCard.of(scenario).library
    n = len(lib)
    picks = {
        "nominal pick, utility": _plan_means(planned.utility, n),
        "nominal pick, SCM": _plan_means(planned.kpis.scm, n),
        "hindsight, SCM": _plan_means(truth.kpis.scm, n),
        "hindsight, utility": _plan_means(truth.utility, n),
    }
    rows = []
    for label, value in picks.items():
        row = int(np.argmax(value))
        rows.append({"pick": label, "plan": lib.names[row], **_outcome(truth, row, seeds)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--nominal-seeds", type=int, default=None, help="nominal-model seeds per candidate (64; --closed-loop: 32)"
    )
    parser.add_argument("--seeds", type=int, default=32, help="evaluation episodes per scenario (default 32)")
    parser.add_argument("--closed-loop", action="store_true", help="also re-plan at every step (ReplanBound)")
    parser.add_argument("--margin", type=float, default=0.05, help="--closed-loop: switch margin (utility units)")
    parser.add_argument("--workers", type=int, default=2, help="--closed-loop: processes (one scenario each)")
    parser.add_argument("--cost-weights", type=float, nargs="+", help="the pick's cost at these planning weights")
    parser.add_argument("--trims", type=float, nargs="+", help="the pick's best one-slice trim by these factors")
    parser.add_argument("--fixed", action="store_true", help="the nominal picks against the hindsight fixed plans")
    parser.add_argument("--first-seed", type=int, default=0, help="first evaluation episode (default 0)")
    args = parser.parse_args()
    if args.seeds < 1 or args.first_seed < 0:
        parser.error(f"--seeds must be >= 1 and --first-seed >= 0, got {args.seeds} and {args.first_seed}")
    if args.closed_loop and args.first_seed:
        parser.error("--first-seed: not with --closed-loop (it plays episodes 0 .. --seeds - 1)")
    first = args.first_seed
    if args.fixed:
        _print_outcomes(
            "| scenario | pick | plan | SCM % | Δcost % | P_g | utility |",
            lambda name: fixed_plans(name, args.nominal_seeds or 64, args.seeds, first),
            lambda r: f"{r['pick']} | {r['plan']} |",
        )
        return
    if args.trims:
        if not all(0.0 < f < 1.0 for f in args.trims):
            parser.error(f"--trims: every factor must be in (0, 1), got {args.trims}")
        _print_outcomes(
            "| scenario | plan (perfect-model pick, then its best trim) | SCM % | Δcost % | P_g | utility |",
            lambda name: trim_tradeoff(name, args.trims, args.nominal_seeds or 64, args.seeds, first),
            lambda r: f"{r['plan']} |",
        )
        return
    if args.cost_weights:
        _print_outcomes(
            "| scenario | planning weight | pick | SCM % | Δcost % | P_g | utility (benchmark's) |",
            lambda name: cost_tradeoff(name, args.cost_weights, args.nominal_seeds or 64, args.seeds, first),
            lambda r: f"{r['weight']:g} | #{r['candidate']:.0f} |",
        )
        return
    nominal = args.nominal_seeds or (32 if args.closed_loop else 64)
    replan: dict[str, dict[str, float]] = {}
    if args.closed_loop:
        jobs = [(name, args.seeds, nominal, args.margin) for name in PAPER_SCENARIOS]
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=one_thread_per_process) as pool:
            replan = dict(pool.map(_replan_unit, jobs))
    closed, replan_closed = [], []
    extra = " re-planning every step | switches | gap closed | SCM % | Δcost % |" if replan else ""
    print(f"| scenario | uniform | nominal-best at t=0 | oracle | gap closed |{extra}")
    print("|---|---|---|---|---|" + ("---|---|---|---|---|" if replan else ""))
    for name in PAPER_SCENARIOS:
        r = bound(name, 64 if args.closed_loop else nominal, args.seeds, first)
        closed.append(r["closed"])
        pick = f"{r['pick']:.3f} (#{r['candidate']})"
        row = f"| {name} | {r['uniform']:.3f} | {pick} | {r['oracle']:.3f} | {r['closed']:.0%} |"
        if replan:
            b = replan[name]
            replan_closed.append((b["utility"] - r["uniform"]) / (r["oracle"] - r["uniform"]))
            row += f" {b['utility']:.3f} | {b['switches']:.1f} | {replan_closed[-1]:.0%} |"
            row += f" {100 * b['scm']:.1f} | {100 * b['delta_cost']:+.1f} |"
        print(row)
    tail = ""
    if replan:
        scm = np.mean([b["scm"] for b in replan.values()])
        cost = np.mean([b["delta_cost"] for b in replan.values()])
        tail = f" | | {np.mean(replan_closed):.0%} | {100 * scm:.1f} | {100 * cost:+.1f} |"
    print(f"| average | | | | {np.mean(closed):.0%} |" + tail)


if __name__ == "__main__":
    main()
