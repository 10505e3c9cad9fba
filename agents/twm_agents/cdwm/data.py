"""CDWM trajectories: episodes of the twin under a recorded logging policy.

**Logging policy** (stored with every episode, as the paper asks). At reset it draws a library
candidate ``k`` uniformly from the *logging mix* (every candidate but the ``UNSEEN`` ones, which
are held out for the unseen-action split); at each step it plays that candidate's shares times a
mean-one log-normal perturbation, ``a = base * exp(sigma * eps - sigma^2 / 2)`` with ``eps ~ N(0, 1)``
per entry. Each episode records ``k``, ``log P(k)`` and, per step, the log density of the action
given ``k`` (entries whose base share is 0 are deterministic and excluded from the density). The
recorded action is the policy's output; the twin projects it (``core/csw.py:project_shares``).

**Per step** an episode stores the observation before the action (``TWM/Slicing-v0``'s keys,
flattened in ``OBSERVATION_KEYS`` order), the action, and the step's KPIs (``KPI_NAMES``):
offered and lost traffic per slice (Mbit), the URLLC latency's exceedance fractions at
``LATENCY_THRESHOLDS_MS`` and its 99th percentile (ms), mean radio and link backlog over buffer
per slice, mean radio utilization per slice, and the control cost. From these the episode's
KPIs follow exactly as the twin computes them (``agents/twm_agents/cdwm/utility.py``).

Datasets save with ``np.savez_compressed`` and load with ``allow_pickle=False``;
:func:`to_minari` exports one to Minari's format (the ``minari`` extra).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twm_gym.core.candidates import candidate_library
from twm_gym.core.kpi import step_kpis
from twm_gym.core.params import SLICES, Scenario
from twm_gym.core.rng import domain_seeds
from twm_gym.core.sim import Simulation
from twm_gym.core.state import EGWState, Snapshot
from twm_gym.envs.layout import OBSERVATION_KEYS, Observer, layout_for
from twm_gym.scenarios import load_scenario

F32 = NDArray[np.float32]

CDWM_SEED_DOMAIN = 0x43444D31
"""Seed domain of the CDWM's rollouts ("CDM1"), apart from evaluation and the FWM's."""
LATENCY_THRESHOLDS_MS: tuple[float, ...] = (3, 4, 6, 8, 11, 14, 17, 20, 24, 30, 40, 60, 100, 200, 400, 999)
"""Exceedance thresholds: from the 3 ms floor (radio + one hop) to just below the 1,000 ms cap; 20 ms is the SLA."""
KPI_NAMES: tuple[str, ...] = (
    *(f"offered_{s}" for s in SLICES),
    *(f"lost_{s}" for s in SLICES),
    *(f"exceed_{int(t)}ms" for t in LATENCY_THRESHOLDS_MS),
    "d99_ms",
    *(f"radio_backlog_{s}" for s in SLICES),
    *(f"link_backlog_{s}" for s in SLICES),
    *(f"radio_util_{s}" for s in SLICES),
    "cost",
)
SYMLOG_KPIS = frozenset(i for i, k in enumerate(KPI_NAMES) if k.startswith(("offered", "lost", "d99")))
"""KPIs spanning orders of magnitude (Mbit, ms): the model fits them in symlog space."""
N_UNSEEN = 32
SIGMA = 0.2
_CHUNK = 1024
FWM_VIEWS: tuple[str, ...] = ("step", "decision")
"""How a step's FWM summary sees the field (:func:`generate`): its own, or a planner's at a random decision step."""


def unseen_candidates(n_candidates: int = 256) -> NDArray[np.int64]:
    """The library candidates held out of the logging mix (fixed; candidate 0, uniform, stays in)."""
    rng = np.random.default_rng(0x554E5345)
    return np.sort(rng.choice(np.arange(1, n_candidates), size=N_UNSEEN, replace=False))


def logging_mix(n_candidates: int = 256) -> NDArray[np.int64]:
    return np.setdiff1d(np.arange(n_candidates), unseen_candidates(n_candidates))


@dataclass(frozen=True, eq=False)
class Trajectories:
    """``E`` episodes of ``T`` steps."""

    obs: F32  # (E, T + 1, D) observations; obs[:, t] is seen before action t
    act: F32  # (E, T, A) actions as the policy emitted them, flat TWM/Slicing-v0 layout
    kpi: F32  # (E, T, K) the step KPIs of KPI_NAMES, natural units
    seed: NDArray[np.int64]  # (E,) exogenous seed (before the domain map)
    candidate: NDArray[np.int64]  # (E,) the behaviour policy's library candidate
    logp_candidate: F32  # (E,) log probability of drawing that candidate
    logp_action: F32  # (E, T) log density of each action given the candidate
    sigma: F32  # (E,) the perturbation's log-normal sigma (0: the candidate played exactly)
    fwm: F32  # (E, T, F) FWM summary of each step's action (agents/twm_agents/cdwm/fieldinfo.py); F = 0 without
    scenario: str

    def __len__(self) -> int:
        return int(self.obs.shape[0])

    def take(self, index: NDArray[np.integer] | slice) -> Trajectories:
        arrays = {f.name: getattr(self, f.name)[index] for f in fields(self) if f.name != "scenario"}
        return Trajectories(scenario=self.scenario, **arrays)

    def digest(self) -> str:
        h = hashlib.sha256(self.scenario.encode())
        for f in fields(self):
            if f.name != "scenario":
                arr = np.ascontiguousarray(getattr(self, f.name))
                h.update(f"{f.name}{arr.dtype}{arr.shape}".encode())
                h.update(arr.tobytes())
        return h.hexdigest()

    def save(self, path: str | Path) -> None:
        arrays = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "scenario"}
        np.savez_compressed(path, scenario=np.array(self.scenario), **arrays)

    @classmethod
    def load(cls, path: str | Path) -> Trajectories:
        with np.load(path, allow_pickle=False) as data:
            missing = {f.name for f in fields(cls)} - set(data.files)
            if missing:
                raise ValueError(f"{path}: not a CDWM dataset, missing arrays {sorted(missing)}")
            arrays = {f.name: data[f.name] for f in fields(cls) if f.name != "scenario"}
            scenario = str(data["scenario"])
        if arrays["kpi"].shape[-1] != len(KPI_NAMES):
            raise ValueError(f"{path}: {arrays['kpi'].shape[-1]} KPIs, this version has {len(KPI_NAMES)}")
        return cls(scenario=scenario, **arrays)


def concat(parts: list[Trajectories]) -> Trajectories:
    arrays = {
        f.name: np.concatenate([getattr(p, f.name) for p in parts])
        for f in fields(Trajectories)
        if f.name != "scenario"
    }
    return Trajectories(scenario="+".join(sorted({p.scenario for p in parts})), **arrays)


def flatten_obs(obs: dict[str, F32]) -> F32:
    """``(B, D)`` from a batched observation dict, in ``OBSERVATION_KEYS`` order."""
    return np.concatenate([obs[k] for k in OBSERVATION_KEYS], axis=-1).astype(np.float32)


def step_kpi_vector(scenario: Scenario, observer: Observer, tr: Any) -> F32:
    """``(B, K)`` the :data:`KPI_NAMES` of one twin :class:`~twm_gym.core.sim.Transition`."""
    res, csw = tr.result, tr.csw
    delays = res.urllc_delay.reshape(res.urllc_delay.shape[0], -1)
    exceed = (delays[:, :, None] > np.asarray(LATENCY_THRESHOLDS_MS, np.float32)).mean(axis=1)
    d99 = step_kpis(scenario, res.offered, res.lost, res.urllc_delay, res.cost).d99_ms
    radio_backlog = (csw.q_radio / observer.radio_buf).mean(axis=1)
    link_backlog = (csw.q_link / observer.link_buf).mean(axis=1)
    return np.concatenate(
        [
            res.offered,
            res.lost,
            exceed,
            d99[:, None],
            radio_backlog,
            link_backlog,
            res.radio_util.mean(axis=1),
            res.cost[:, None],
        ],
        axis=1,
    ).astype(np.float32)


def live_step_kpi_vector(scenario: Scenario, before: Snapshot, after: Snapshot, radio_util: F32) -> F32:
    """``(K,)`` the :data:`KPI_NAMES` of the step between two snapshots of a live episode (batch 1).

    What an agent can rebuild without the twin's transition: offered and lost traffic, the URLLC
    latency samples and the cost from the ledger's growth; the backlogs from ``after``'s queues;
    ``radio_util`` (C*S, ``csw_radio_util`` of the observation after the step). Equal to
    :func:`step_kpi_vector` of the same step (tested).
    """
    if after.t != before.t + 1 or before.batch != 1 or after.batch != 1:
        raise ValueError(f"need consecutive batch-1 snapshots, got steps {before.t} -> {after.t}")
    observer = Observer(layout_for(scenario))
    t = before.t
    n = after.ledger.delays.shape[1] // scenario.horizon  # latency samples per step (K * C)
    delays = after.ledger.delays[:, t * n : (t + 1) * n]
    offered = after.ledger.offered - before.ledger.offered
    lost = after.ledger.lost - before.ledger.lost
    cost = after.ledger.cost_sum - before.ledger.cost_sum
    exceed = (delays[:, :, None] > np.asarray(LATENCY_THRESHOLDS_MS, np.float32)).mean(axis=1)
    d99 = step_kpis(scenario, offered, lost, delays[:, None, :], cost).d99_ms
    util = np.asarray(radio_util, np.float32).reshape(1, -1, len(SLICES)).mean(axis=1)
    return np.concatenate(
        [
            offered,
            lost,
            exceed,
            d99[:, None],
            (after.csw.q_radio / observer.radio_buf).mean(axis=1),
            (after.csw.q_link / observer.link_buf).mean(axis=1),
            util,
            cost[:, None],
        ],
        axis=1,
    ).astype(np.float32)[0]


def generate(
    scenario: str | Scenario,
    seeds: range | list[int],
    *,
    candidates: NDArray[np.int64] | None = None,
    sigma: float = SIGMA,
    rng_seed: int = 0,
    fwm: Any = None,
    fwm_view: str = "step",
    encoding: str = "flat",
    observations: str = "all",
) -> Trajectories:
    """Episodes for exogenous ``seeds`` under the logging policy over ``candidates`` (default: the logging mix).

    With ``fwm`` (a :class:`~twm_agents.fwm.predictor.FieldModel`) each step also records the FWM
    summary of its action, on the field seen at the start of that step (``fwm_view="step"``; the
    exogenous state inferred from that step's observation, :mod:`twm_agents.fwm.observed`, as the
    planner infers it), or
    as a planner deciding at a random step ``t0`` of the episode sees it (``"decision"``): steps
    before ``t0`` on their own fields, every later step on the field seen at the start of ``t0``
    (:func:`twm_agents.cdwm.fieldinfo.field_summary`; ``t0`` uniform over the horizon, one per episode).

    With ``encoding="sets"`` the observations and actions are stored as the city-free summaries of
    :mod:`twm_agents.cdwm.encoding` (the actions as the twin applied them), so episodes of cities
    of different sizes concatenate; the logged densities stay those of the flat actions. With
    ``observations="csw"`` only the controllable world's keys are stored (they come first).
    """
    from twm_agents.cdwm.encoding import CSW_WIDTH, ENCODINGS, OBSERVATIONS, CityEncoding

    if fwm_view not in FWM_VIEWS:
        raise ValueError(f"fwm_view: {fwm_view!r} is not one of {FWM_VIEWS}")
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding: {encoding!r} is not one of {ENCODINGS}")
    if observations not in OBSERVATIONS:
        raise ValueError(f"observations: {observations!r} is not one of {OBSERVATIONS}")
    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must name at least one episode")
    lib, layout = candidate_library(sc), layout_for(sc)
    observer = Observer(layout)
    mix = logging_mix(len(lib)) if candidates is None else np.asarray(candidates, dtype=np.int64)
    rng = np.random.default_rng([rng_seed, 0x43444D])
    cuts = np.random.default_rng([rng_seed, 0x435554])  # its own stream: the episodes do not depend on the view
    horizon, parts = sc.horizon, []
    for i0 in range(0, len(seeds), _CHUNK):
        chunk = np.asarray(seeds[i0 : i0 + _CHUNK], dtype=np.int64)
        n = len(chunk)
        cand = mix[rng.integers(len(mix), size=n)]
        cut = cuts.integers(horizon, size=n) if fwm is not None and fwm_view == "decision" else None
        sim = Simulation(sc, domain_seeds(chunk, CDWM_SEED_DOMAIN))
        last = observer.observe(0, sim.csw, sim.egw, None, None)
        obs = [flatten_obs(last)]
        seen = None  # the exogenous state each episode's planner infers from its observations
        acts, kpis, logps, fields_ = [], [], [], []
        for t in range(horizon):
            base = layout.pack(lib.p[cand, t], lib.b[cand, t])  # (n, A)
            eps = rng.standard_normal(base.shape).astype(np.float32)
            act = base * np.exp(np.float32(sigma) * eps - np.float32(sigma**2 / 2))
            live = base > 0
            # log-normal density of act given base, over the entries that are random
            logpdf = -np.log(act * sigma * np.sqrt(2 * np.pi), where=live, out=np.zeros_like(act)) - 0.5 * eps**2
            logps.append(np.where(live, logpdf, 0.0).sum(axis=1) if sigma > 0 else np.zeros(n))
            p, b = layout.unpack(act)
            if fwm is not None:
                from twm_agents.cdwm.fieldinfo import field_summary
                from twm_agents.fwm.observed import observed_state

                pp, bp = layout.project(act)
                now = observed_state(sc, last)
                if cut is not None:  # follows the observations up to t0, then frozen
                    seen = now if seen is None else _where(t <= cut, now, seen)
                fields_.append(field_summary(fwm, sc, now if seen is None else seen, t, pp, bp))
            tr = sim.step(p, b)
            acts.append(act)
            kpis.append(step_kpi_vector(sc, observer, tr))
            last = observer.observe(t + 1, tr.csw, tr.egw, tr.drivers, tr.result)
            obs.append(flatten_obs(last))
        obs_all, act_all = np.stack(obs, axis=1), np.stack(acts, axis=1).astype(np.float32)
        if encoding == "sets":
            enc = CityEncoding.of(sc)
            obs_all, act_all = enc.obs(obs_all), enc.history(act_all)
        if observations == "csw":
            width = (
                CSW_WIDTH if encoding == "sets" else sum(layout.sizes[k] for k in OBSERVATION_KEYS if k[:4] == "csw_")
            )
            obs_all = obs_all[..., :width]
        parts.append(
            Trajectories(
                obs=obs_all,
                act=act_all,
                kpi=np.stack(kpis, axis=1),
                seed=chunk,
                candidate=cand,
                logp_candidate=np.full(n, -np.log(len(mix)), dtype=np.float32),
                logp_action=np.stack(logps, axis=1).astype(np.float32),
                sigma=np.full(n, sigma, dtype=np.float32),
                fwm=np.stack(fields_, axis=1) if fields_ else np.zeros((n, horizon, 0), dtype=np.float32),
                scenario=scenario if isinstance(scenario, str) else sc.name,
            )
        )
    return concat(parts)


def _where(mask: NDArray[np.bool_], new: EGWState, old: EGWState) -> EGWState:
    """Per episode (``mask (B,)``): ``new``'s rows where true, else ``old``'s."""
    merged = {}
    for f in fields(new):
        a, b = getattr(new, f.name), getattr(old, f.name)
        merged[f.name] = np.where(mask.reshape(-1, *([1] * (a.ndim - 1))), a, b)
    return EGWState(**merged)


def to_minari(data: Trajectories, dataset_id: str, **metadata: Any) -> Any:
    """Export to a local Minari dataset (``pip install twm-gym[minari]``); returns the ``MinariDataset``.

    Observations are the flat vectors (``OBSERVATION_KEYS`` order), actions the logged actions,
    rewards the negative step cost; each episode's ``infos`` carry the step KPIs, the behaviour
    candidate and the log density of every action, so the logging policy travels with the data.
    ``metadata`` goes to ``minari.create_dataset_from_buffers`` (``author``, ``description``, ...).
    """
    import minari  # the optional extra
    from gymnasium import spaces
    from minari.data_collector import EpisodeBuffer

    t_steps = data.act.shape[1]
    cost = KPI_NAMES.index("cost")
    buffers = [
        EpisodeBuffer(
            id=e,
            seed=int(data.seed[e]),
            observations=data.obs[e],
            actions=data.act[e],
            rewards=-data.kpi[e, :, cost].astype(np.float64),
            terminations=np.zeros(t_steps, dtype=bool),
            truncations=np.arange(t_steps) == t_steps - 1,
            infos={
                "kpi": data.kpi[e],
                "logp_action": data.logp_action[e],
                "candidate": np.full(t_steps, data.candidate[e]),
            },
        )
        for e in range(len(data))
    ]
    obs_space = spaces.Box(-np.inf, np.inf, shape=data.obs.shape[2:], dtype=np.float32)
    act_space = spaces.Box(0.0, np.inf, shape=data.act.shape[2:], dtype=np.float32)
    return minari.create_dataset_from_buffers(
        dataset_id, buffers, observation_space=obs_space, action_space=act_space, **metadata
    )
