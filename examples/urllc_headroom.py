"""A plug-in agent in one screen (the first-steps tutorial, docs/tutorials/first-steps.md).

Each cell's PRBs follow its observed demand, with URLLC's share weighted up for headroom (its SLA
is the tightest: 10 % loss); links split evenly. No world model, no simulator call. Score it::

    PYTHONPATH=examples twm-bench run --agents urllc_headroom:URLLCHeadroom uniform proportional \\
        --scenarios hotspot-id wave-id --seeds 8 --out results/mine
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from twm_agents.base import Action, Agent, Observation
from twm_gym.core.params import SLICES

URLLC = SLICES.index("urllc")


class URLLCHeadroom(Agent):
    """Demand-proportional PRB shares, URLLC's demand counted ``headroom`` times; even link shares."""

    name: ClassVar[str] = "urllc-headroom"

    def __init__(self, headroom: float = 2.0) -> None:
        super().__init__()
        if headroom <= 0:
            raise ValueError(f"headroom must be > 0, got {headroom}")
        self.headroom = headroom

    def act(self, observation: Observation) -> Action:
        layout = self.ctx.card.layout  # how shares pack into the flat action
        demand = observation["egw_demand"].reshape(layout.n_cells, len(SLICES))  # load / capacity
        weight = demand.astype(np.float64) + 1e-6
        weight[:, URLLC] *= self.headroom
        p = weight / weight.sum(axis=1, keepdims=True)  # (cells, slices), rows sum to 1
        b = np.full((layout.n_links, len(SLICES)), 1 / len(SLICES))  # (links, slices)
        return layout.pack(p.astype(np.float32), b.astype(np.float32))
