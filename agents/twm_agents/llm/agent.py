"""The LLM agent baseline (the paper's "LLM Agent"): allocates from the intent and the observation,
with no world model and no simulator calls.

Each step it sizes every slice to the *observed* mean offered load (``egw_demand``; URLLC with
10 % headroom for its latency), fills the rest of a cell or link in proportion when the
objective puts compliance before cost, then applies the
intent's floors and caps (cells, zones, links, everywhere) for the intent's window. The intent is
compiled by the configured backend (``agents/twm_agents/llm/backends.py``: ``embedded`` by default,
``openai`` or ``vllm``, or ``TWM_LLM_BACKEND``); a model's output is validated and falls back to
the embedded compiler. An intent that does not compile leaves the default objective and no
restrictions, and its issues are kept in ``agent.issues``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from twm_agents.base import Action, Agent, EpisodeContext, Observation
from twm_agents.llm.backends import BACKENDS, BackendConfig, compile_with
from twm_agents.llm.spec import Restriction
from twm_gym.core.compiled import compile_scenario
from twm_gym.core.params import SLICES, URLLC, ZONES, Scenario

DEFAULT_INTENT = "Meet every SLA while cutting cost"


class LLMAgent(Agent):
    """Intent + observation -> shares, no world model (options: ``intent``, ``backend``)."""

    name: ClassVar[str] = "llm"

    def __init__(self, intent: str = DEFAULT_INTENT, backend: str | None = None, **options: Any) -> None:
        super().__init__()
        if backend is not None and backend not in BACKENDS:
            raise ValueError(f"backend: {backend!r} is not one of {list(BACKENDS)}")
        self.intent = intent
        self.backend_config = BackendConfig.from_env(**({"name": backend} if backend else {}), **options)
        self.backend = self.backend_config.name
        self.issues: list[str] = []
        self._compiled: dict[Scenario, Any] = {}

    def reset(self, context: EpisodeContext) -> None:
        super().reset(context)
        scenario = context.card.nominal
        comp = compile_scenario(scenario)
        if scenario not in self._compiled:  # one compilation (one model call) per scenario, by value
            self._compiled[scenario] = compile_with(self.intent, scenario, self.backend_config)
        result = self._compiled[scenario]
        self.issues = [f"{i.field}: {i.message}" for i in result.issues]
        self.spec = result.spec
        self._nominal = comp.nominal_capacity[:, None]  # Mbps; egw_demand is a ratio to it
        self._cell_link, self._link_mbps, self._zones = comp.cell_link, comp.link_mbps[:, None], comp.zones
        self._headroom = np.ones(3, dtype=np.float32)  # capacity = the observed mean load...
        self._headroom[URLLC] = 1.0 / 0.9  # ...and URLLC under 90 % utilization for its latency
        objective = self.spec.objective if self.spec is not None else None
        self._fill = objective is None or objective.cost < objective.compliance

    def act(self, observation: Observation) -> Action:
        layout = self.ctx.card.layout
        t = self._t
        self._t += 1
        demand = observation["egw_demand"].reshape(layout.n_cells, 3) * self._nominal  # Mbps
        p = demand * self._headroom / self._nominal
        b = (self._cell_link.T @ demand) * self._headroom / self._link_mbps
        p, b = self._fit(p), self._fit(b)
        floor_p, floor_b = np.zeros_like(p), np.zeros_like(b)
        if self.spec is not None and (self.spec.window is None or self.spec.window.start <= t <= self.spec.window.end):
            for r in self.spec.restrictions:
                self._restrict(r, p, b, floor_p, floor_b)
        return layout.pack(_within(p, floor_p), _within(b, floor_b))

    def _fit(self, shares: np.ndarray, fill: bool | None = None) -> np.ndarray:
        """Rows scaled down to sum <= 1; with ``fill``, leftover capacity split in proportion."""
        total = shares.sum(axis=1, keepdims=True)
        out = np.where(total > 1.0, shares / np.maximum(total, 1e-12), shares)
        if self._fill if fill is None else fill:
            total = out.sum(axis=1, keepdims=True)
            out = np.where(total > 0, out / np.maximum(total, 1e-12), 1 / 3)
        return np.clip(out, 0.0, 1.0).astype(np.float32)

    def _restrict(self, r: Restriction, p: np.ndarray, b: np.ndarray, floor_p: np.ndarray, floor_b: np.ndarray) -> None:
        """Apply one restriction in place; floors are also recorded (they survive the final fit)."""
        slices = [SLICES.index(r.slice)] if r.slice is not None else [0, 1, 2]
        if r.scope == "link":
            rows, target, floors = np.array([int(i) for i in r.ids]), b, floor_b
        else:
            if r.scope == "cell":
                rows = np.array([int(i) for i in r.ids])
            elif r.scope == "zone":
                rows = np.flatnonzero(self._zones[[ZONES.index(z) for z in r.ids]].any(axis=0))
            else:
                rows = np.arange(p.shape[0])
            target, floors = p, floor_p
        for s in slices:
            if r.floor is not None:
                target[rows, s] = np.maximum(target[rows, s], r.floor)
                floors[rows, s] = np.maximum(floors[rows, s], r.floor)
            if r.cap is not None:
                target[rows, s] = np.minimum(target[rows, s], r.cap)


def _within(shares: np.ndarray, floors: np.ndarray) -> np.ndarray:
    """Rows brought to sum <= 1 by scaling down what lies above the floors (the floors stay)."""
    extra = np.maximum(shares - floors, 0.0)
    room = np.maximum(1.0 - floors.sum(axis=1, keepdims=True), 0.0)
    used = extra.sum(axis=1, keepdims=True)
    scale = np.where(used > room, room / np.maximum(used, 1e-12), 1.0)
    return np.clip(floors + extra * scale, 0.0, 1.0).astype(np.float32)
