"""The FWM dataset: (grid channels, 12 field features per cell, SINR map) samples drawn from the twin.

Each sample is one slow step of one exogenous rollout paired with one candidate allocation. The
rollouts are seeded in the FWM's own seed domain (never an evaluation episode's), so generation is
reproducible and a split by seed range is a split by exogenous world. Three quarters of the
allocations are library candidates at that step (what the planner scores); the rest are random
shares (every cell and link split by a flat Dirichlet and scaled by U(0.4, 1)), so the model has
seen allocations off the library.

Datasets are plain arrays saved with ``np.savez_compressed`` and loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from twm_agents.fwm.fields import (
    CHANNELS,
    FEATURES,
    GEOMETRY_CHANNELS,
    config_channels,
    exo_channels,
    field_features,
    field_geometry,
    sinr_map,
)
from twm_gym.core.candidates import candidate_library
from twm_gym.core.egw import initial_egw, roll
from twm_gym.core.params import Scenario
from twm_gym.core.rng import domain_seeds, seed_keys
from twm_gym.scenarios import load_scenario

F32 = NDArray[np.float32]

FWM_SEED_DOMAIN = 0x46574D31
"""Seed domain of the FWM's training rollouts ("FWM1")."""
LIBRARY_FRACTION = 0.75
_CHUNK_SEEDS = 256  # rollouts generated per batch (bounds memory)


@dataclass(frozen=True, eq=False)
class FieldDataset:
    """``N`` samples. ``x`` holds every channel of ``fields.channels(cells)``; ``y`` every feature of ``FEATURES``."""

    x: F32  # (N, len(channels(cells)), G, G)
    y: F32  # (N, C, 12)
    sinr: F32  # (N, G, G) SINR map, dB
    seed: NDArray[np.int64]  # (N,) rollout seed (before the domain map)
    step: NDArray[np.int64]  # (N,) slow step of the rollout
    candidate: NDArray[np.int64]  # (N,) library index, -1 for a random allocation
    scenario: str  # the name it loads by (``load_scenario``); names joined by ``+`` after ``concat``

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def take(self, index: NDArray[np.integer] | slice) -> FieldDataset:
        arrays = {f.name: getattr(self, f.name)[index] for f in fields(self) if f.name != "scenario"}
        return FieldDataset(scenario=self.scenario, **arrays)

    def digest(self) -> str:
        """SHA-256 of every array and the scenario name (identifies the data a checkpoint saw)."""
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
    def load(cls, path: str | Path) -> FieldDataset:
        with np.load(path, allow_pickle=False) as data:
            missing = {f.name for f in fields(cls)} - set(data.files)
            if missing:
                raise ValueError(f"{path}: not an FWM dataset, missing arrays {sorted(missing)}")
            arrays = {f.name: data[f.name] for f in fields(cls) if f.name != "scenario"}
            scenario = str(data["scenario"])
        widths = (len(CHANNELS), len(CHANNELS) + len(GEOMETRY_CHANNELS))
        if arrays["x"].shape[1] not in widths or arrays["y"].shape[2] != len(FEATURES):
            raise ValueError(f"{path}: channel/feature layout {arrays['x'].shape[1:2]} does not match this version")
        return cls(scenario=scenario, **arrays)


def concat(parts: list[FieldDataset]) -> FieldDataset:
    """One dataset from several (the scenario names joined with ``+`` when they differ)."""
    names = sorted({p.scenario for p in parts})
    arrays = {
        f.name: np.concatenate([getattr(p, f.name) for p in parts])
        for f in fields(FieldDataset)
        if f.name != "scenario"
    }
    return FieldDataset(scenario="+".join(names), **arrays)


def generate(
    scenario: str | Scenario, seeds: range | list[int], *, rng_seed: int = 0, cells: str = "fixed"
) -> FieldDataset:
    """Samples for every step of the rollouts ``seeds`` of ``scenario`` (one allocation each).

    Deterministic in (scenario, seeds, rng_seed); ``rng_seed`` draws the allocations. ``cells``
    picks the channels (``fields.channels``): a one-city model's, or an any-city model's.
    """
    if cells not in ("fixed", "sets"):
        raise ValueError(f"cells must be 'fixed' or 'sets', got {cells!r}")
    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must name at least one rollout")
    geom = field_geometry(sc)
    comp, lib = geom.comp, candidate_library(sc)
    horizon = sc.horizon
    rng = np.random.default_rng([rng_seed, 0x46574D])
    parts = []
    for i0 in range(0, len(seeds), _CHUNK_SEEDS):
        chunk = np.asarray(seeds[i0 : i0 + _CHUNK_SEEDS], dtype=np.int64)
        batch = len(chunk)
        keys = seed_keys(domain_seeds(chunk, FWM_SEED_DOMAIN))
        path = roll(comp, initial_egw(comp, batch), keys, 0, horizon)
        for t in range(horizon):
            drv = path.at(t)
            cand = rng.integers(len(lib), size=batch)
            p, b = lib.p[cand, t].copy(), lib.b[cand, t].copy()
            rand = rng.random(batch) >= LIBRARY_FRACTION
            if rand.any():
                k = int(rand.sum())
                p[rand] = _random_shares(rng, (k, comp.n_cells))
                b[rand] = _random_shares(rng, (k, comp.n_links))
                cand[rand] = -1
            spatial = exo_channels(geom, drv, geometry=cells == "sets")
            x = np.concatenate([spatial, config_channels(geom, drv, p, b)], axis=1)
            parts.append(
                FieldDataset(
                    x=x,
                    y=field_features(geom, drv, p, b),
                    sinr=sinr_map(geom, drv).reshape(batch, geom.grid, geom.grid),
                    seed=chunk.copy(),
                    step=np.full(batch, t, dtype=np.int64),
                    candidate=cand.astype(np.int64),
                    scenario=scenario if isinstance(scenario, str) else sc.name,
                )
            )
    return concat(parts)


def _random_shares(rng: np.random.Generator, shape: tuple[int, int]) -> F32:
    """``shape + (3,)`` shares: a flat Dirichlet per row, scaled by U(0.4, 1)."""
    split = rng.dirichlet(np.ones(3), size=shape)
    return (split * rng.uniform(0.4, 1.0, size=(*shape, 1))).astype(np.float32)
