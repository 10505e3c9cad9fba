"""Training the CDWM: logged trajectories, the RSSM ensemble by the ELBO, calibration, metrics, checkpoint.

``twm-bench train cdwm [--config default|tiny] [--set key=value ...] --out PATH`` runs
:func:`train`. The shipped checkpoint's recipe is ``CDWMConfig()`` with
``--out agents/twm_agents/cdwm/checkpoints/default``.

Splits, all by exogenous seed range: training and calibration episodes of the ID scenarios under
the logging mix; held-out test episodes under the logging mix (ID), under the candidates held out
of the mix (unseen actions) and from the ``*-ood`` scenarios. Calibration imagines every
calibration episode open loop from its first observation under its logged actions — what the
planner does — and fits the KPI intervals (crepes) and the violation probabilities (isotonic).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from twm_agents.cdwm.data import FWM_VIEWS, KPI_NAMES, SYMLOG_KPIS, Trajectories, concat, generate, unseen_candidates
from twm_agents.cdwm.encoding import CSW_WIDTH, ENCODINGS, OBSERVATIONS
from twm_agents.cdwm.metrics import imagine_episodes, trajectory_metrics
from twm_agents.cdwm.model import OPEN_LOOP_LOSSES, CDWMEnsemble, RSSMShape
from twm_agents.cdwm.predictor import CDWMModel
from twm_agents.cdwm.utility import episode_from_steps
from twm_agents.config import apply_overrides
from twm_agents.conformal import FeatureIntervals, ViolationCalibrator
from twm_agents.fwm.predictor import FieldModel, resolve_device
from twm_gym.envs.layout import OBSERVATION_KEYS, layout_for
from twm_gym.scenarios import load_scenario

TRAIN_SEED0, CAL_SEED0, TEST_SEED0, UNSEEN_SEED0, OOD_SEED0 = 0, 1_000_000, 2_000_000, 3_000_000, 4_000_000


@dataclass(frozen=True)
class CDWMConfig:
    """Everything that determines a trained CDWM (with the code version)."""

    scenarios: tuple[str, ...] = ("hotspot-id", "wave-id")
    ood_scenarios: tuple[str, ...] = ("hotspot-ood", "wave-ood")
    train_episodes: int = 1500  # per scenario
    cal_episodes: int = 300
    test_episodes: int = 200
    members: int = 3
    deter: int = 96
    stoch: int = 32
    hidden: int = 128
    updates: int = 1000  # gradient steps per member
    batch_size: int = 128  # episodes per step
    lr: float = 2e-3  # one-cycle peak (AdamW)
    samples: int = 8  # latent draws per member when imagining
    fwm_features: bool = False  # condition on the FWM's summary of every step's action
    fwm_checkpoint: str = ""  # FWM for fwm_features: a shipped name ("": default) or a path
    fwm_view: str = "step"  # the field each step's summary is on: "step" (its own) or "decision" (data.generate)
    open_loop_loss: str = "mse"  # how imagined KPIs are scored: "mse" or "crps" (model.OPEN_LOOP_LOSSES)
    encoding: str = "flat"  # "flat": one city's vectors; "sets": city-free summaries (cdwm/encoding.py)
    observations: str = "all"  # "all" keys, or "csw": the controllable world's alone (the paper's CDWM-only)
    seed: int = 0
    device: str = "auto"
    threads: int = 0

    def __post_init__(self) -> None:
        positive = (
            "train_episodes",
            "cal_episodes",
            "members",
            "deter",
            "stoch",
            "hidden",
            "updates",
            "batch_size",
            "samples",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"CDWMConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.test_episodes < 0 or not self.lr > 0:
            raise ValueError("CDWMConfig.test_episodes must be >= 0 and lr > 0")
        if self.fwm_view not in FWM_VIEWS:
            raise ValueError(f"CDWMConfig.fwm_view must be one of {FWM_VIEWS}, got {self.fwm_view!r}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"CDWMConfig.encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        if self.observations not in OBSERVATIONS:
            raise ValueError(f"CDWMConfig.observations must be one of {OBSERVATIONS}, got {self.observations!r}")
        if self.open_loop_loss not in OPEN_LOOP_LOSSES:
            raise ValueError(
                f"CDWMConfig.open_loop_loss must be one of {OPEN_LOOP_LOSSES}, got {self.open_loop_loss!r}"
            )
        for name in (*self.scenarios, *self.ood_scenarios):
            load_scenario(name)

    @classmethod
    def preset(cls, name: str) -> CDWMConfig:
        if name not in PRESETS:
            raise ValueError(f"unknown CDWM config {name!r}; choose one of {sorted(PRESETS)}")
        return PRESETS[name]

    def replace(self, overrides: dict[str, str]) -> CDWMConfig:
        return dataclasses.replace(self, **apply_overrides(self, overrides))


def _train_split(ood: bool) -> tuple[str, ...]:
    """The ``train`` split's ID (or OOD) scenarios: every generated training city and family."""
    from twm_gym.scenarios.splits import split_scenarios

    return tuple(n for n in split_scenarios("train") if n.endswith("-ood") == ood)


_SETS = CDWMConfig(
    scenarios=_train_split(ood=False),
    ood_scenarios=_train_split(ood=True),
    encoding="sets",
    train_episodes=1000,
    cal_episodes=100,
    test_episodes=20,
    updates=2000,
    threads=2,
)
"""The any-city recipe: every ID scenario of the ``train`` split, its OOD variants as the OOD test."""

PRESETS: dict[str, CDWMConfig] = {
    "default": CDWMConfig(),
    "sets": _SETS,
    "sets-csw": dataclasses.replace(_SETS, observations="csw"),
    # The paper's coupling for any city: the controllable world observed, the exogenous world
    # reaching the CDWM only through the any-city FWM's field summaries.
    "sets-fields": dataclasses.replace(
        _SETS, observations="csw", fwm_features=True, fwm_checkpoint="sets", fwm_view="decision"
    ),
    "tiny": CDWMConfig(
        train_episodes=64,
        cal_episodes=24,
        test_episodes=8,
        deter=24,
        stoch=8,
        hidden=32,
        updates=80,
        batch_size=32,
        samples=2,
    ),
}


@dataclass
class Splits:
    train: Trajectories
    cal: Trajectories
    tests: dict[str, Trajectories]


def make_splits(config: CDWMConfig) -> Splits:
    fwm = load_fwm(config)

    def many(names: tuple[str, ...], seed0: int, n: int, tag: int, **kw: Any) -> Trajectories:
        kw.update(rng_seed=config.seed * 100 + tag, fwm=fwm, fwm_view=config.fwm_view, encoding=config.encoding)
        kw["observations"] = config.observations
        return concat([generate(s, range(seed0, seed0 + n), **kw) for s in names])

    tests: dict[str, Trajectories] = {}
    if config.test_episodes:
        tests["id"] = many(config.scenarios, TEST_SEED0, config.test_episodes, 3)
        tests["unseen_action"] = many(
            config.scenarios, UNSEEN_SEED0, config.test_episodes, 4, candidates=unseen_candidates()
        )
        if config.ood_scenarios:
            tests["ood"] = many(config.ood_scenarios, OOD_SEED0, config.test_episodes, 5)
    return Splits(
        train=many(config.scenarios, TRAIN_SEED0, config.train_episodes, 1),
        cal=many(config.scenarios, CAL_SEED0, config.cal_episodes, 2),
        tests=tests,
    )


def load_fwm(config: CDWMConfig) -> FieldModel | None:
    """The FWM a config conditions on, or None."""
    if not config.fwm_features:
        return None
    fwm = FieldModel.named(config.fwm_checkpoint)
    if config.encoding == "sets" and not fwm.shape.any_city:
        raise ValueError(
            f"CDWMConfig.fwm_checkpoint: {config.fwm_checkpoint or 'default'!r} reads one city; "
            "a 'sets' CDWM needs an any-city FWM (fwm_checkpoint=sets)"
        )
    return fwm


def fit_ensemble(config: CDWMConfig, data: Trajectories, progress: Callable[[str], None] | None = None) -> CDWMEnsemble:
    """Train every member on the ELBO (+ the open-loop KPI error) with its own minibatch stream."""
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    if config.observations == "csw":
        csw_dim = data.obs.shape[-1]
    elif config.encoding == "sets":
        csw_dim = CSW_WIDTH
    else:
        layout = layout_for(load_scenario(config.scenarios[0]))
        csw_dim = sum(layout.sizes[k] for k in OBSERVATION_KEYS if k.startswith("csw_"))
    shape = RSSMShape(
        obs_dim=data.obs.shape[-1],
        csw_dim=csw_dim,
        act_dim=data.act.shape[-1],
        kpi_dim=len(KPI_NAMES),
        members=config.members,
        deter=config.deter,
        stoch=config.stoch,
        hidden=config.hidden,
        fwm_dim=data.fwm.shape[-1],
        encoding=config.encoding,
        observations=config.observations,
    )
    model = CDWMEnsemble(shape)
    obs, kpi = torch.from_numpy(data.obs), torch.from_numpy(data.kpi)
    act = torch.from_numpy(np.concatenate([data.act, data.fwm], axis=-1))
    mask = torch.zeros(len(KPI_NAMES), dtype=torch.bool)
    mask[sorted(SYMLOG_KPIS)] = True
    model.set_normalization(obs, act, kpi, mask)
    model.to(device)
    with torch.no_grad():
        on, an, kn = model.norm_obs(obs.to(device)), model.norm_act(act.to(device)), model.norm_kpi(kpi.to(device))
    bs = min(config.batch_size, len(data))
    model.train()
    for i, member in enumerate(model.rssms):
        opt = torch.optim.AdamW(member.parameters(), lr=config.lr, weight_decay=1e-5)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=config.updates)
        gen = torch.Generator().manual_seed(config.seed * 1000 + i)
        t0 = time.perf_counter()
        for u in range(config.updates):
            idx = torch.randint(len(data), (bs,), generator=gen).to(device)
            terms = member.elbo_terms(on[idx], an[idx], kn[idx], open_loop=config.open_loop_loss)
            loss = terms["kpi"] + terms["obs"] + terms["kl"] + terms["kpi_open_loop"]
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(member.parameters(), 100.0)
            opt.step()
            sched.step()
            if progress is not None and (u + 1) % max(config.updates // 4, 1) == 0:
                values = {k: round(v.item(), 3) for k, v in terms.items()}
                elapsed = time.perf_counter() - t0
                progress(f"member {i + 1}/{config.members} update {u + 1}/{config.updates}: {values} ({elapsed:.0f} s)")
    return model.eval()


def calibrate(model: CDWMModel, cal: Trajectories, scenario_names: tuple[str, ...], samples: int) -> CDWMModel:
    """Fit KPI intervals and violation probabilities on open-loop imagination of the calibration episodes."""
    draws = imagine_episodes(model, cal, samples)  # (M, E, S, T, K)
    m, e, s = draws.shape[:3]
    flat = draws.transpose(1, 3, 4, 0, 2).reshape(e, draws.shape[3], draws.shape[4], m * s)
    intervals = FeatureIntervals.fit(cal.kpi, flat.mean(axis=-1), flat.std(axis=-1))
    sc = load_scenario(scenario_names[0])
    raw = episode_from_steps(
        sc, draws, cost=np.broadcast_to(cal.kpi[None, :, None, :, KPI_NAMES.index("cost")], draws.shape[:4])
    )
    p_raw = raw.global_violation.reshape(m, e, s).mean(axis=(0, 2)).astype(np.float32)
    outcome = episode_from_steps(sc, cal.kpi).global_violation.astype(np.float32)
    return CDWMModel(
        model.ensemble, intervals, ViolationCalibrator(p_raw, outcome), model.meta, device=str(model.device)
    )


def train(
    config: CDWMConfig, out: str | Path | None = None, progress: Callable[[str], None] | None = print
) -> CDWMModel:
    """Generate the splits, train, calibrate, evaluate and (with ``out``) save a checkpoint."""
    if config.threads:
        torch.set_num_threads(config.threads)
    say = progress or (lambda _: None)
    t0 = time.perf_counter()
    splits = make_splits(config)
    t_data = time.perf_counter() - t0
    say(f"data: {len(splits.train)} train, {len(splits.cal)} cal episodes ({t_data:.1f} s)")
    ensemble = fit_ensemble(config, splits.train, progress)
    t_fit = time.perf_counter() - t0 - t_data
    meta: dict[str, Any] = {
        "config": dataclasses.asdict(config),
        "data_sha256": splits.train.digest(),
        "train_episodes": len(splits.train),
    }
    torch.manual_seed(config.seed)  # calibration and metrics sample latents
    model = calibrate(
        CDWMModel(ensemble, None, None, meta, device=config.device), splits.cal, config.scenarios, config.samples
    )
    metrics = {name: trajectory_metrics(model, data, config.samples) for name, data in splits.tests.items()}
    meta["metrics"] = metrics
    meta["seconds"] = {"data": round(t_data, 1), "fit": round(t_fit, 1), "total": round(time.perf_counter() - t0, 1)}
    if "id" in metrics:
        say(
            ", ".join(
                f"{k}: PICP {v['picp']:.3f}, CRPS {v['crps']:.3f}, Brier {v['brier']:.3f}" for k, v in metrics.items()
            )
        )
    if out is not None:
        weights, meta_path = model.save(out)
        say(f"checkpoint: {weights} + {meta_path.name}")
    return model
