"""Print the twin's acceptance properties, each with its measured figure.

    python benchmarks/studies/twin_properties.py [--seeds 32]

Properties (the twin issue's "It must show"), on ``--seeds`` seeds per scenario:

1. OOD is harder than ID for both families under the uniform policy;
2. the planning problem is real: a safe-and-cheaper candidate (mean SCM >= uniform's, dcost >= 5 %)
   in each ID scenario; a cheap-and-unsafe one (dcost >= 10 %, global violation on >= half the
   seeds); the per-seed hindsight-best candidate beats uniform's utility on >= 80 % of seeds;
3. the fast timescale matters: a policy whose slow-step mean URLLC capacity exceeds the slow-step
   mean URLLC arrivals in every cell and step still breaks URLLC (overflow or d99 > 20 ms) on at
   least half the hotspot-id seeds.

The functions return the figures so that ``tests/core/test_properties.py`` asserts the same numbers.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from twm_gym.core import simulate
from twm_gym.core.candidates import candidate_library
from twm_gym.core.params import URLLC, Scenario
from twm_gym.scenarios import load_scenario


@dataclass(frozen=True)
class LibraryFigures:
    scenario: str
    uniform_scm: float
    uniform_p_g: float
    safe_cheap: str | None  # best-SCM candidate with SCM >= uniform's and dcost >= 5 %
    safe_cheap_scm: float
    safe_cheap_dcost: float
    cheap_unsafe: str | None  # a candidate with dcost >= 10 % violating on >= half the seeds
    cheap_unsafe_dcost: float
    cheap_unsafe_p_g: float
    hindsight_win_rate: float  # fraction of seeds whose best candidate beats uniform's utility


def library_figures(name: str, n_seeds: int) -> LibraryFigures:
    sc = load_scenario(name)
    lib = candidate_library(sc)
    n = len(lib)
    out = simulate(sc, np.repeat(lib.p, n_seeds, 0), np.repeat(lib.b, n_seeds, 0), np.tile(np.arange(n_seeds), n))
    scm = out.kpis.scm.reshape(n, n_seeds).mean(axis=1)
    dcost = out.kpis.delta_cost.reshape(n, n_seeds).mean(axis=1)
    p_g = out.kpis.global_violation.reshape(n, n_seeds).mean(axis=1)
    util = out.utility.reshape(n, n_seeds)
    safe = (scm >= scm[0]) & (dcost >= 0.05)
    i_safe = int(np.argmax(np.where(safe, scm, -np.inf))) if safe.any() else None
    unsafe = (dcost >= 0.10) & (p_g >= 0.5)
    i_unsafe = int(np.argmax(np.where(unsafe, dcost, -np.inf))) if unsafe.any() else None
    return LibraryFigures(
        scenario=name,
        uniform_scm=float(scm[0]),
        uniform_p_g=float(p_g[0]),
        safe_cheap=None if i_safe is None else lib.names[i_safe],
        safe_cheap_scm=float("nan") if i_safe is None else float(scm[i_safe]),
        safe_cheap_dcost=float("nan") if i_safe is None else float(dcost[i_safe]),
        cheap_unsafe=None if i_unsafe is None else lib.names[i_unsafe],
        cheap_unsafe_dcost=float("nan") if i_unsafe is None else float(dcost[i_unsafe]),
        cheap_unsafe_p_g=float("nan") if i_unsafe is None else float(p_g[i_unsafe]),
        hindsight_win_rate=float((util.max(axis=0) > util[0] + 1e-6).mean()),
    )


def average_fooling_policy(
    sc: Scenario, seed: int, margin: float = 1.1
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """A policy that looks safe on slow-step averages for one seed (built with hindsight).

    URLLC gets ``margin`` times the slow-step mean URLLC arrival rate of each cell and step (read
    from the uniform policy's trajectory, whose capacities are the same: the field is exogenous),
    the rest of each cell goes to eMBB and FWA in proportion to their demand; links stay uniform.
    """
    horizon = sc.horizon
    third = np.full((horizon, len(sc.city.cell_xy), 3), 1 / 3, dtype=np.float32)
    bthird = np.full((horizon, len(sc.transport.links), 3), 1 / 3, dtype=np.float32)
    traj = simulate(sc, third, bthird, [seed], record=True).trajectory
    if traj is None:  # pragma: no cover - record=True always returns one
        raise RuntimeError("no trajectory recorded")
    realized = _realized_urllc_rate(sc, seed)  # (T, C) Mbps
    cap = traj.capacity[0]  # (T, C) Mbps
    p = np.zeros((horizon, len(sc.city.cell_xy), 3), dtype=np.float32)
    p[:, :, URLLC] = np.minimum(margin * realized / cap, 1.0)
    rest = 1.0 - p[:, :, URLLC]
    demand = traj.demand[0]
    other = demand[:, :, [0, 2]] / demand[:, :, [0, 2]].sum(axis=-1, keepdims=True)
    p[:, :, 0] = rest * other[:, :, 0]
    p[:, :, 2] = rest * other[:, :, 1]
    return p, bthird


def _realized_urllc_rate(sc: Scenario, seed: int) -> NDArray[np.float32]:
    """``(T, C)`` realized mean URLLC arrival rate per slow step (demand x mean burst), Mbps."""
    from twm_gym.core.compiled import compile_scenario
    from twm_gym.core.egw import advance, initial_egw
    from twm_gym.core.rng import seed_keys

    comp = compile_scenario(sc)
    state = initial_egw(comp, 1)
    keys = seed_keys(np.array([seed]))
    out = np.zeros((sc.horizon, comp.n_cells), dtype=np.float32)
    for t in range(sc.horizon):
        state, drv = advance(comp, state, keys, t)
        out[t] = drv.demand[0, :, URLLC] * drv.burst[0, :, :, URLLC].mean(axis=0)
    return out


def fast_timescale_figure(n_seeds: int, scenario: str = "hotspot-id") -> tuple[float, float]:
    """Fraction of seeds where the average-fooling policy breaks URLLC, and its median d99 (ms)."""
    sc = load_scenario(scenario)
    broke, d99s = [], []
    for seed in range(n_seeds):
        p, b = average_fooling_policy(sc, seed)
        k = simulate(sc, p, b, [seed]).kpis
        broke.append(bool(k.violation[0, URLLC]) or float(k.loss[0, URLLC]) > 0.0)
        d99s.append(float(k.d99_ms[0]))
    return float(np.mean(broke)), float(np.median(d99s))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=32)
    args = parser.parse_args()
    figs = {n: library_figures(n, args.seeds) for n in ("hotspot-id", "hotspot-ood", "wave-id", "wave-ood")}
    print(f"seeds per scenario: {args.seeds}\n")
    print("1. OOD harder than ID under uniform (mean SCM, P_g):")
    for fam in ("hotspot", "wave"):
        i, o = figs[f"{fam}-id"], figs[f"{fam}-ood"]
        harder = o.uniform_scm < i.uniform_scm or o.uniform_p_g > i.uniform_p_g
        print(
            f"   {fam}: ID SCM {i.uniform_scm:.3f} P_g {i.uniform_p_g:.2f} | OOD SCM {o.uniform_scm:.3f} "
            f"P_g {o.uniform_p_g:.2f} -> {'holds' if harder else 'FAILS'}"
        )
    print("2. planning problem:")
    for f in figs.values():
        print(
            f"   {f.scenario}: safe-cheaper {f.safe_cheap} (SCM {f.safe_cheap_scm:.3f} >= {f.uniform_scm:.3f}, "
            f"dcost {f.safe_cheap_dcost:.3f}); cheap-unsafe {f.cheap_unsafe} (dcost {f.cheap_unsafe_dcost:.3f}, "
            f"P_g {f.cheap_unsafe_p_g:.2f}); hindsight beats uniform on {f.hindsight_win_rate:.0%} of seeds"
        )
    rate, d99 = fast_timescale_figure(args.seeds)
    print(
        f"3. fast timescale: average-fooling policy breaks URLLC on {rate:.0%} of hotspot-id seeds "
        f"(median d99 {d99:.1f} ms; needs >= 50 %)"
    )


if __name__ == "__main__":
    main()
