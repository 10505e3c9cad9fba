"""Training the FWM: data from the twin, the ensemble by MSE, conformal calibration, metrics, checkpoint.

``twm-bench train fwm [--config default|tiny] [--set key=value ...] --out PATH`` runs
:func:`train`. The recipe of the shipped checkpoint is ``FWMConfig()`` (the ``default`` preset)
with ``--out agents/twm_agents/fwm/checkpoints/default``.

Splits are by exogenous seed range (never overlapping): training, calibration (conformal) and
held-out test rollouts of the in-distribution scenarios, and an OOD test set from the ``*-ood``
scenarios, which the model never sees before the test.

``--config sets`` trains the any-city model (``cells="sets"``, ``fwm/model.py``) on every scenario
of the ``train`` split (its generated cities, both families, ID and OOD): each batch is drawn
from one scenario (one city's grid and cells), the scenario drawn in proportion to its samples.
Its unseen-city figures come from ``twm-bench axis field --splits test-cities``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from twm_agents.config import apply_overrides
from twm_agents.conformal import FeatureIntervals
from twm_agents.fwm import checkpoint
from twm_agents.fwm.data import FieldDataset, concat, generate
from twm_agents.fwm.fields import CONFIG_CHANNELS, FEATURES, channels, field_geometry
from twm_agents.fwm.metrics import evaluate
from twm_agents.fwm.model import CELL_MODES, FieldEnsemble, ModelShape, cell_pools
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
    cells: str = "fixed"  # "fixed": one city's model; "sets": any city (fwm/model.py)

    def __post_init__(self) -> None:
        for name in ("train_seeds", "cal_seeds", "test_seeds", "members", "width", "hidden", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"FWMConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.ood_seeds < 0:
            raise ValueError(f"FWMConfig.ood_seeds must be >= 0, got {self.ood_seeds}")
        if not self.lr > 0:
            raise ValueError(f"FWMConfig.lr must be > 0, got {self.lr}")
        if self.cells not in CELL_MODES:
            raise ValueError(f"FWMConfig.cells must be one of {CELL_MODES}, got {self.cells!r}")
        if not self.scenarios:
            raise ValueError("FWMConfig.scenarios must name at least one scenario")
        geoms = {checkpoint.geometry_digest(field_geometry(load_scenario(n))) for n in self.scenarios}
        for name in self.ood_scenarios:
            load_scenario(name)  # raises naming the valid scenarios
        if self.cells == "fixed" and len(geoms) > 1:
            raise ValueError("FWMConfig.scenarios: a 'fixed' model fits one city; use cells=sets for several")

    @classmethod
    def preset(cls, name: str) -> FWMConfig:
        if name not in PRESETS:
            raise ValueError(f"unknown FWM config {name!r}; choose one of {sorted(PRESETS)}")
        return PRESETS[name]

    def replace(self, overrides: dict[str, str]) -> FWMConfig:
        """A copy with ``key=value`` strings applied (types from the field defaults)."""
        return dataclasses.replace(self, **apply_overrides(self, overrides))


def _train_split() -> tuple[str, ...]:
    """Every scenario of the ``train`` split (its generated cities, both families, ID and OOD)."""
    from twm_gym.scenarios.splits import split_scenarios

    return tuple(split_scenarios("train"))


PRESETS: dict[str, FWMConfig] = {
    "default": FWMConfig(),
    # Any city: 24 scenarios x 24 rollouts x 12 steps = 6,912 training samples.
    "sets": FWMConfig(
        scenarios=_train_split(),
        ood_scenarios=(),
        train_seeds=24,
        cal_seeds=6,
        test_seeds=6,
        ood_seeds=0,
        cells="sets",
        threads=2,
    ),
    # For tests: seconds on a CPU, a real (weak) model.
    "tiny": FWMConfig(
        train_seeds=24, cal_seeds=6, test_seeds=6, ood_seeds=4, width=12, hidden=48, epochs=6, batch_size=64, lr=5e-3
    ),
}


@dataclass
class Splits:
    """Each split as a list of datasets, one per city (a one-city model's: a single dataset)."""

    train: list[FieldDataset]
    cal: list[FieldDataset]
    test: list[FieldDataset]
    ood: list[FieldDataset] | None


def make_splits(config: FWMConfig) -> Splits:
    """The four datasets of ``config`` (reproducible: generation is seeded)."""

    def many(names: tuple[str, ...], seed0: int, n: int, tag: int) -> list[FieldDataset]:
        parts = [
            generate(s, range(seed0, seed0 + n), rng_seed=config.seed * 100 + tag, cells=config.cells) for s in names
        ]
        return parts if config.cells == "sets" else [concat(parts)]

    return Splits(
        train=many(config.scenarios, TRAIN_SEED0, config.train_seeds, 1),
        cal=many(config.scenarios, CAL_SEED0, config.cal_seeds, 2),
        test=many(config.scenarios, TEST_SEED0, config.test_seeds, 3),
        ood=many(config.ood_scenarios, OOD_SEED0, config.ood_seeds, 4)
        if config.ood_scenarios and config.ood_seeds
        else None,
    )


def _statistics(parts: list[FieldDataset]) -> tuple[torch.Tensor, ...]:
    """An any-city model's normalization, pooled over datasets of any grid and size: per input channel
    (over samples and pixels), per target feature (over samples and cells; one row broadcast over the
    cells) and the SINR map's."""
    xs = [torch.from_numpy(p.x).double().transpose(0, 1).flatten(1) for p in parts]  # (Cin, N*G*G)
    ys = [torch.from_numpy(p.y).double().reshape(-1, p.y.shape[-1]) for p in parts]
    maps = torch.cat([torch.from_numpy(p.sinr).double().ravel() for p in parts])
    x_all, y_all = torch.cat(xs, dim=1), torch.cat(ys)
    stats = (x_all.mean(dim=1), x_all.std(dim=1), y_all.mean(dim=0), y_all.std(dim=0), maps.mean(), maps.std())
    x_mean, x_std, y_mean, y_std, map_mean, map_std = (t.float() for t in stats)
    return x_mean, x_std, y_mean[None], y_std[None], map_mean, map_std


def fit_ensemble(
    config: FWMConfig, data: FieldDataset | list[FieldDataset], progress: Callable[[str], None] | None = None
) -> FieldEnsemble:
    """Train every member (features, MSE on standardized targets) and the field head (SINR map, MSE).

    ``data``: one city's dataset, or (any-city model) one dataset per scenario; every batch is drawn
    from one dataset, the dataset in proportion to its size, each member with its own draws.
    """
    parts = [data] if isinstance(data, FieldDataset) else list(data)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    any_city = config.cells == "sets"
    geom = field_geometry(load_scenario(config.scenarios[0]))
    shape = ModelShape(
        in_channels=len(channels(config.cells)),
        config_channels=len(CONFIG_CHANNELS),
        n_cells=0 if any_city else geom.n_cells,
        n_features=len(FEATURES),
        grid=0 if any_city else geom.grid,
        members=config.members,
        width=config.width,
        hidden=config.hidden,
        cells=config.cells,
    )
    model = FieldEnsemble(shape)
    if not any_city:
        model.set_cells(torch.from_numpy(geom.serve.copy()))
    if any_city:
        model.set_statistics(*_statistics(parts))
    else:  # one city: one dataset
        x, y, sinr = (torch.from_numpy(a) for a in (parts[0].x, parts[0].y, parts[0].sinr))
        model.set_normalization(x, y, sinr)
    model.to(device)
    groups = []  # per dataset: normalized spatial channels, cell configuration, targets, maps, pools
    for part in parts:
        pool = (
            cell_pools(torch.from_numpy(field_geometry(load_scenario(part.scenario)).serve.copy()), _cells(part))
            if any_city
            else None
        )
        pool = pool.to(device) if pool is not None else None
        with torch.no_grad():
            zn, cfg = model.split(torch.from_numpy(part.x).to(device), pool)
        yn = (torch.from_numpy(part.y).to(device) - model.y_mean) / model.y_std
        sn = (torch.from_numpy(part.sinr).to(device) - model.map_mean) / model.map_std
        groups.append((zn, cfg, yn, sn, model.pools(pool)))
    sizes = torch.tensor([float(len(p)) for p in parts])
    nets: list[torch.nn.Module] = [*model.members, model.field]
    n = int(sizes.sum())
    bs = min(config.batch_size, int(sizes.min()) if len(parts) > 1 else n)
    steps = config.epochs * (n // bs)
    opts = [torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay) for net in nets]
    scheds = [torch.optim.lr_scheduler.OneCycleLR(o, max_lr=config.lr, total_steps=steps) for o in opts]
    gens = [torch.Generator().manual_seed(config.seed * 1000 + k) for k in range(len(nets))]
    model.train()
    for epoch in range(config.epochs):
        # Each member (and the field head) sees its own shuffle: the ensemble's diversity.
        if len(parts) == 1:
            perms = [torch.randperm(n, generator=g).to(device) for g in gens]
        total = torch.zeros(len(nets), device=device)
        for i in range(0, n - bs + 1, bs):
            for k, (net, opt, sched) in enumerate(zip(nets, opts, scheds, strict=True)):
                if len(parts) == 1:
                    g, idx = 0, perms[k][i : i + bs]
                else:
                    g = int(torch.multinomial(sizes, 1, generator=gens[k]))
                    idx = torch.randperm(int(sizes[g]), generator=gens[k])[:bs].to(device)
                zn, cfg, yn, sn, pool = groups[g]
                if net is model.field:
                    loss = torch.mean((net(zn[idx]) - sn[idx]) ** 2)
                else:
                    loss = torch.mean((net(zn[idx], cfg[idx], pool) - yn[idx]) ** 2)
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


def _cells(part: FieldDataset) -> int:
    return int(part.y.shape[1])


def _digest(parts: list[FieldDataset]) -> str:
    """The data a checkpoint saw: one dataset's digest, or the digest of every dataset's in order."""
    if len(parts) == 1:
        return parts[0].digest()
    return hashlib.sha256("".join(p.digest() for p in parts).encode()).hexdigest()


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
    samples = {
        name: sum(len(p) for p in parts)
        for name, parts in (("train", splits.train), ("cal", splits.cal), ("test", splits.test))
    }
    say(f"data: {samples['train']} train, {samples['cal']} cal, {samples['test']} test samples ({t_data:.1f} s)")
    ensemble = fit_ensemble(config, splits.train, progress)
    t_fit = time.perf_counter() - t0 - t_data
    meta: dict[str, Any] = {
        "config": dataclasses.asdict(config),
        # A one-city model records its city (loading it for another fails); an any-city model none.
        "geometry": None
        if config.cells == "sets"
        else checkpoint.geometry_digest(field_geometry(load_scenario(config.scenarios[0]))),
        "data_sha256": _digest(splits.train),
        "train_samples": samples["train"],
    }
    # Calibrate on the calibration split with an interval-less model, then evaluate.
    bare = FieldModel(ensemble, None, meta, device=config.device)
    cal_y, cal_mean, cal_sd = [], [], []
    for part in splits.cal:
        city = field_geometry(load_scenario(part.scenario)) if config.cells == "sets" else None
        pred = bare.predict(part.x, city=city, with_field=False)
        cal_y.append(part.y.reshape(-1, part.y.shape[-1]))
        cal_mean.append(pred.mean.reshape(cal_y[-1].shape))
        cal_sd.append(pred.sd.reshape(cal_y[-1].shape))
    intervals = FeatureIntervals.fit(np.concatenate(cal_y), np.concatenate(cal_mean), np.concatenate(cal_sd))
    model = FieldModel(ensemble, intervals, meta, device=config.device)
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
