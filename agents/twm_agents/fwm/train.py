"""Training the FWM: data from the twin, the ensemble by MSE, conformal calibration, metrics, checkpoint.

``twm-bench train fwm [--config default|tiny] [--set key=value ...] --out PATH`` runs
:func:`train`. The recipe of the shipped checkpoint is ``FWMConfig()`` (the ``default`` preset)
with ``--out agents/twm_agents/fwm/checkpoints/default``.

Splits are by exogenous seed range (never overlapping): training, calibration (conformal) and
held-out test rollouts of the in-distribution scenarios, and an OOD test set from the ``*-ood``
scenarios, which the model never sees before the test.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from twm_agents.config import apply_overrides
from twm_agents.conformal import FeatureIntervals
from twm_agents.fwm import checkpoint
from twm_agents.fwm.data import FieldDataset, concat, generate
from twm_agents.fwm.fields import CHANNELS, CONFIG_CHANNELS, FEATURES, field_geometry
from twm_agents.fwm.metrics import evaluate
from twm_agents.fwm.model import FieldEnsemble, ModelShape
from twm_agents.fwm.predictor import FieldModel, resolve_device
from twm_gym.scenarios import load_scenario

# Seed ranges of the splits (rollouts in the FWM's own seed domain).
TRAIN_SEED0, CAL_SEED0, TEST_SEED0, OOD_SEED0 = 0, 1_000_000, 2_000_000, 3_000_000


@dataclass(frozen=True)
class FWMConfig:
    """Everything that determines a trained FWM (with the code version)."""

    scenarios: tuple[str, ...] = ("hotspot-id", "wave-id")  # in-distribution training data
    ood_scenarios: tuple[str, ...] = ("hotspot-ood", "wave-ood")  # test only
    train_seeds: int = 300  # rollouts per scenario (x 12 steps = samples)
    cal_seeds: int = 60
    test_seeds: int = 60
    ood_seeds: int = 60
    members: int = 3
    width: int = 32
    hidden: int = 256
    epochs: int = 16
    batch_size: int = 128
    lr: float = 3e-3  # peak of a one-cycle schedule (AdamW)
    weight_decay: float = 1e-4
    seed: int = 0
    device: str = "auto"  # "auto": CUDA when present
    threads: int = 0  # torch intra-op threads; 0 leaves torch's default

    def __post_init__(self) -> None:
        for name in ("train_seeds", "cal_seeds", "test_seeds", "members", "width", "hidden", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"FWMConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.ood_seeds < 0:
            raise ValueError(f"FWMConfig.ood_seeds must be >= 0, got {self.ood_seeds}")
        if not self.lr > 0:
            raise ValueError(f"FWMConfig.lr must be > 0, got {self.lr}")
        for name in (*self.scenarios, *self.ood_scenarios):
            load_scenario(name)  # raises naming the valid scenarios

    @classmethod
    def preset(cls, name: str) -> FWMConfig:
        if name not in PRESETS:
            raise ValueError(f"unknown FWM config {name!r}; choose one of {sorted(PRESETS)}")
        return PRESETS[name]

    def replace(self, overrides: dict[str, str]) -> FWMConfig:
        """A copy with ``key=value`` strings applied (types from the field defaults)."""
        return dataclasses.replace(self, **apply_overrides(self, overrides))


PRESETS: dict[str, FWMConfig] = {
    "default": FWMConfig(),
    # For tests: seconds on a CPU, a real (weak) model.
    "tiny": FWMConfig(
        train_seeds=24, cal_seeds=6, test_seeds=6, ood_seeds=4, width=12, hidden=48, epochs=6, batch_size=64, lr=5e-3
    ),
}


@dataclass
class Splits:
    train: FieldDataset
    cal: FieldDataset
    test: FieldDataset
    ood: FieldDataset | None


def make_splits(config: FWMConfig) -> Splits:
    """The four datasets of ``config`` (reproducible: generation is seeded)."""

    def many(names: tuple[str, ...], seed0: int, n: int, tag: int) -> FieldDataset:
        return concat([generate(s, range(seed0, seed0 + n), rng_seed=config.seed * 100 + tag) for s in names])

    return Splits(
        train=many(config.scenarios, TRAIN_SEED0, config.train_seeds, 1),
        cal=many(config.scenarios, CAL_SEED0, config.cal_seeds, 2),
        test=many(config.scenarios, TEST_SEED0, config.test_seeds, 3),
        ood=many(config.ood_scenarios, OOD_SEED0, config.ood_seeds, 4)
        if config.ood_scenarios and config.ood_seeds
        else None,
    )


def fit_ensemble(config: FWMConfig, data: FieldDataset, progress: Callable[[str], None] | None = None) -> FieldEnsemble:
    """Train every member (features, MSE on standardized targets) and the field head (SINR map, MSE)."""
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    sc = load_scenario(config.scenarios[0])
    geom = field_geometry(sc)
    shape = ModelShape(
        in_channels=len(CHANNELS),
        config_channels=len(CONFIG_CHANNELS),
        n_cells=geom.n_cells,
        n_features=len(FEATURES),
        grid=geom.grid,
        members=config.members,
        width=config.width,
        hidden=config.hidden,
    )
    model = FieldEnsemble(shape)
    x, y, sinr = torch.from_numpy(data.x), torch.from_numpy(data.y), torch.from_numpy(data.sinr)
    model.set_normalization(x, y, sinr)
    model.set_cells(torch.from_numpy(geom.serve.copy()))
    model.to(device)
    with torch.no_grad():
        zn, cfg = model.split(x.to(device))
    yn = (y.to(device) - model.y_mean) / model.y_std
    sn = (sinr.to(device) - model.map_mean) / model.map_std
    nets: list[torch.nn.Module] = [*model.members, model.field]
    n, bs = len(data), min(config.batch_size, len(data))
    steps = config.epochs * (n // bs)
    opts = [torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay) for net in nets]
    scheds = [torch.optim.lr_scheduler.OneCycleLR(o, max_lr=config.lr, total_steps=steps) for o in opts]
    gens = [torch.Generator().manual_seed(config.seed * 1000 + k) for k in range(len(nets))]
    model.train()
    for epoch in range(config.epochs):
        # Each member (and the field head) sees its own shuffle: the ensemble's diversity.
        perms = [torch.randperm(n, generator=g).to(device) for g in gens]
        total = torch.zeros(len(nets), device=device)
        for i in range(0, n - bs + 1, bs):
            for k, (net, opt, sched) in enumerate(zip(nets, opts, scheds, strict=True)):
                idx = perms[k][i : i + bs]
                if net is model.field:
                    loss = torch.mean((net(zn[idx]) - sn[idx]) ** 2)
                else:
                    loss = torch.mean((net(zn[idx], cfg[idx], model.pool) - yn[idx]) ** 2)
                opt.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
                sched.step()
                total[k] += loss.detach()
        if progress is not None:
            per = (total / max(n // bs, 1)).tolist()
            progress(
                f"epoch {epoch + 1}/{config.epochs}: member MSE {[round(v, 4) for v in per[:-1]]}, map {per[-1]:.4f}"
            )
    return model.eval()


def train(
    config: FWMConfig, out: str | Path | None = None, progress: Callable[[str], None] | None = print
) -> FieldModel:
    """Generate the splits, train, calibrate, evaluate and (with ``out``) save a checkpoint."""
    if config.threads:
        torch.set_num_threads(config.threads)
    say = progress or (lambda _: None)
    t0 = time.perf_counter()
    splits = make_splits(config)
    t_data = time.perf_counter() - t0
    say(f"data: {len(splits.train)} train, {len(splits.cal)} cal, {len(splits.test)} test samples ({t_data:.1f} s)")
    ensemble = fit_ensemble(config, splits.train, progress)
    t_fit = time.perf_counter() - t0 - t_data
    meta: dict[str, Any] = {
        "config": dataclasses.asdict(config),
        "geometry": checkpoint.geometry_digest(field_geometry(load_scenario(config.scenarios[0]))),
        "data_sha256": splits.train.digest(),
        "train_samples": len(splits.train),
    }
    # Calibrate on the calibration split with an interval-less model, then evaluate.
    bare = FieldModel(ensemble, None, meta, device=config.device)
    cal = bare.predict(splits.cal.x, with_field=False)
    model = FieldModel(ensemble, FeatureIntervals.fit(splits.cal.y, cal.mean, cal.sd), meta, device=config.device)
    metrics = {"test": evaluate(model, splits.test)}
    if splits.ood is not None:
        metrics["ood"] = evaluate(model, splits.ood)
    meta["metrics"] = metrics
    meta["seconds"] = {"data": round(t_data, 1), "fit": round(t_fit, 1), "total": round(time.perf_counter() - t0, 1)}
    say(
        f"test R2 {metrics['test']['r2']:.4f}, PICP {metrics['test']['picp']:.3f}"
        + (f"; OOD R2 {metrics['ood']['r2']:.4f}, PICP {metrics['ood']['picp']:.3f}" if "ood" in metrics else "")
        + f" ({meta['seconds']['total']} s)"
    )
    if out is not None:
        weights, meta_path = model.save(out)
        say(f"checkpoint: {weights} + {meta_path.name}")
    return model
