"""Ranking quality of the CDWM: predicted vs twin-true utility of the 256 candidates from start states.

A *start state* is an episode of the held-out seed range run for ``t0`` steps under the logging
policy (so the model has a history to filter). From it every library candidate plays the
remaining ``12 - t0`` steps. The **twin-true utility** of a candidate is its expected episode
utility from that state: the mean over ``futures`` exogenous continuations drawn from the
snapshot (the twin branches with fresh seeds), the same futures for every candidate. The CDWM's
prediction is :meth:`CDWMModel.rank`. The score is Spearman's correlation over the 256 candidates,
per start state, and over the 32 candidates held out of the logging mix alone (unseen actions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.stats import spearmanr

from twm_agents.cdwm.data import (
    CDWM_SEED_DOMAIN,
    KPI_NAMES,
    flatten_obs,
    logging_mix,
    step_kpi_vector,
    unseen_candidates,
)
from twm_agents.cdwm.fieldinfo import FWM_SUMMARY, field_summary
from twm_agents.cdwm.predictor import CDWMModel
from twm_agents.fwm.predictor import FieldModel
from twm_gym.core.candidates import CandidateLibrary, candidate_library
from twm_gym.core.kpi import Utility
from twm_gym.core.params import Scenario
from twm_gym.core.rng import domain_seeds
from twm_gym.core.sim import Simulation
from twm_gym.core.state import Snapshot
from twm_gym.envs.layout import Observer, layout_for

F32 = NDArray[np.float32]

RANKING_SEED0 = 8_000_000
_FUTURE_DOMAIN = 0x46555455


@dataclass(frozen=True, eq=False)
class StartState:
    obs: F32  # (t0 + 1, D)
    act: F32  # (t0, A)
    kpi: F32  # (t0, K)
    fwm: F32  # (t0, F) FWM summaries of the past actions (F = 0 without an FWM)
    snapshot: Snapshot


def start_states(
    scenario: Scenario, seeds: list[int], t0: int, rng_seed: int = 0, fwm: FieldModel | None = None
) -> list[StartState]:
    """Episodes of ``seeds`` run ``t0`` steps under the logging policy (unperturbed candidates of the mix).

    With ``fwm``, each past step's FWM summary is recorded too.
    """
    lib, layout = candidate_library(scenario), layout_for(scenario)
    observer = Observer(layout)
    rng = np.random.default_rng([rng_seed, t0])
    mix = logging_mix(len(lib))
    cand = mix[rng.integers(len(mix), size=len(seeds))]
    sim = Simulation(scenario, domain_seeds(np.asarray(seeds), CDWM_SEED_DOMAIN))
    obs = [flatten_obs(observer.observe(0, sim.csw, sim.egw, None, None))]
    acts, kpis, fields_ = [], [], []
    for t in range(t0):
        p, b = lib.p[cand, t], lib.b[cand, t]
        if fwm is not None:
            fields_.append(field_summary(fwm, scenario, sim.egw, t, p, b))
        tr = sim.step(p, b)
        acts.append(layout.pack(p, b))
        kpis.append(step_kpi_vector(scenario, observer, tr))
        obs.append(flatten_obs(observer.observe(t + 1, tr.csw, tr.egw, tr.drivers, tr.result)))
    o = np.stack(obs, axis=1)
    a = np.stack(acts, axis=1) if acts else np.zeros((len(seeds), 0, layout.action_size), np.float32)
    k = np.stack(kpis, axis=1) if kpis else np.zeros((len(seeds), 0, len(KPI_NAMES)), np.float32)
    width = len(FWM_SUMMARY) if fwm is not None else 0
    f = np.stack(fields_, axis=1) if fields_ else np.zeros((len(seeds), 0, width), np.float32)
    return [StartState(obs=o[i], act=a[i], kpi=k[i], fwm=f[i], snapshot=sim.snapshot(i)) for i in range(len(seeds))]


def true_utility(scenario: Scenario, start: StartState, lib: CandidateLibrary, futures: int, seed: int) -> F32:
    """``(N,)`` expected utility of every candidate from ``start`` over ``futures`` shared continuations."""
    n, t0 = len(lib), start.snapshot.t
    future_seeds = domain_seeds(np.arange(futures) + seed * futures, _FUTURE_DOMAIN)
    sim = Simulation(scenario, np.tile(future_seeds, n), start=start.snapshot)
    idx = np.repeat(np.arange(n), futures)
    for t in range(t0, scenario.horizon):
        sim.step(lib.p[idx, t], lib.b[idx, t])
    return Utility()(sim.kpis()).reshape(n, futures).mean(axis=1)


def ranking_quality(
    model: CDWMModel,
    scenario: Scenario,
    seeds: list[int],
    t0: int = 3,
    futures: int = 16,
    samples: int = 8,
    fwm: FieldModel | None = None,
) -> dict[str, float]:
    """Mean, min and per-state Spearman correlation (over the library) of predicted vs true utility.

    ``fwm`` is needed (and used) only for a CDWM trained with FWM features.
    """
    lib = candidate_library(scenario)
    if model.shape.fwm_dim and fwm is None:  # the FWM it was trained with
        fwm = FieldModel.named(str(model.meta.get("config", {}).get("fwm_checkpoint", "")))
    if not model.shape.fwm_dim:
        fwm = None
    unseen = unseen_candidates(len(lib))
    rhos, rhos_unseen = [], []
    for i, start in enumerate(start_states(scenario, seeds, t0, fwm=fwm)):
        truth = true_utility(scenario, start, lib, futures, seed=seeds[i])
        pred = model.rank(
            scenario,
            start.obs,
            start.act,
            start.kpi,
            lib.p[:, t0:],
            lib.b[:, t0:],
            samples=samples,
            fwm=fwm,
            egw_state=start.snapshot.egw,
            history_fwm=start.fwm,
        )
        rhos.append(float(spearmanr(pred.utility, truth).statistic))
        rhos_unseen.append(float(spearmanr(pred.utility[unseen], truth[unseen]).statistic))
    return {
        "spearman": float(np.mean(rhos)),
        "spearman_min": float(np.min(rhos)),
        "spearman_unseen": float(np.mean(rhos_unseen)),
        "states": float(len(rhos)),
    }
