"""Classic baselines that need no twin: uniform 1/3, demand-proportional, random library candidate."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from twm_agents.base import Action, Agent, EpisodeContext, Observation
from twm_gym.core.compiled import compile_scenario


class Uniform(Agent):
    """1/3 of every cell's PRBs and every link's bandwidth to each slice, every step."""

    name: ClassVar[str] = "uniform"

    def act(self, observation: Observation) -> Action:
        return np.full(self.ctx.card.layout.action_size, 1 / 3, dtype=np.float32)


class Proportional(Agent):
    """Shares follow the observed demand: a cell's PRBs split by its slices' offered load; a link's
    bandwidth by the load its intact-network route carries per slice. Fully provisioned."""

    name: ClassVar[str] = "proportional"

    def reset(self, context: EpisodeContext) -> None:
        super().reset(context)
        comp = compile_scenario(context.card.nominal)
        self._cell_link = comp.cell_link  # (C, L)
        self._nominal = comp.nominal_capacity[:, None]  # demand obs is a ratio to this

    def act(self, observation: Observation) -> Action:
        layout = self.ctx.card.layout
        demand = observation["egw_demand"].reshape(layout.n_cells, 3) * self._nominal  # Mbps
        p = _normalize(demand)
        b = _normalize(self._cell_link.T @ demand)  # (L, S) Mbps carried per link
        return layout.pack(p, b)


class RandomCandidate(Agent):
    """A library candidate drawn at random (with the agent's own generator) for each episode."""

    name: ClassVar[str] = "random"

    def reset(self, context: EpisodeContext) -> None:
        super().reset(context)
        self._index = int(context.rng.integers(len(context.card.library)))

    def act(self, observation: Observation) -> Action:
        return self.play_candidate(self._index)

    @property
    def candidate(self) -> str:
        return self.ctx.card.library.names[self._index]


def _normalize(x: Any) -> np.ndarray:
    """Rows scaled to sum to 1 (a row with no load splits evenly)."""
    arr = np.asarray(x, dtype=np.float64)
    total = arr.sum(axis=-1, keepdims=True)
    even = np.full_like(arr, 1 / arr.shape[-1])
    return np.where(total > 0, arr / np.where(total > 0, total, 1.0), even).astype(np.float32)
