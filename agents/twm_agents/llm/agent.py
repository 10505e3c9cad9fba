"""The LLM agent baseline (the paper's "LLM Agent"): allocates from the intent and the observation,
with no world model and no simulator calls.

Each step it sizes every slice to the *observed* mean offered load (``egw_demand``; URLLC with
10 % headroom for its latency), fills the rest of a cell or link in proportion when the
objective puts compliance before cost, then moves the plan into the intent's share bounds (floors
and caps on cells, zones, links or everywhere, within the intent's window:
:meth:`twm_gym.intents.ShareBounds.project`). The intent is the episode's (``card.intent``) when it
has one, else the ``intent`` option; it is compiled by the configured backend
(``agents/twm_agents/llm/backends.py``: ``embedded`` by default, ``openai`` or ``vllm``, or
``TWM_LLM_BACKEND``) and checked for its effect (:mod:`twm_agents.llm.safety`). An intent that does
not compile, or is unsafe, leaves the default objective and no bounds; its issues are kept in
``agent.issues``. Every step the bounded plan is checked again under the demand seen now: a plan
whose bounds would starve a slice the operator did not waive (``card.waived``) is not played, the
unbounded plan is, and the step is counted in ``metrics()["unsafe_steps"]``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from twm_agents.base import Action, Agent, EpisodeContext, Observation
from twm_agents.llm.backends import BACKENDS, BackendConfig, compile_with, make_backend
from twm_agents.llm.safety import starved_slices
from twm_gym.core.compiled import compile_scenario
from twm_gym.core.params import URLLC, Scenario
from twm_gym.intents import ShareBounds, share_bounds

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
        self._model = make_backend(self.backend_config)  # one per agent: what it settles, it keeps
        self.issues: list[str] = []
        self._compiled: dict[tuple[Scenario, str, tuple[str, ...]], Any] = {}
        self.unsafe_steps = 0

    def reset(self, context: EpisodeContext) -> None:
        super().reset(context)
        card = context.card
        scenario = card.nominal
        comp = compile_scenario(scenario)
        intent = card.intent if card.intent is not None else self.intent
        key = (scenario, intent, card.waived)
        if key not in self._compiled:  # one compilation (one model call) per scenario and intent
            self._compiled[key] = compile_with(
                intent, scenario, self.backend_config, waived=card.waived, backend=self._model
            )
        result = self._compiled[key]
        self.issues = [f"{i.field}: {i.message}" for i in result.issues]
        self.spec = result.spec
        self._bounds: ShareBounds | None = None
        if self.spec is not None and self.spec.restrictions:
            self._bounds = share_bounds(self.spec, scenario)
        self._scenario, self._waived = scenario, card.waived
        self._nominal = comp.nominal_capacity[:, None]  # Mbps; egw_demand is a ratio to it
        self._cell_link, self._link_mbps = comp.cell_link, comp.link_mbps[:, None]
        self._headroom = np.ones(3, dtype=np.float32)  # capacity = the observed mean load...
        self._headroom[URLLC] = 1.0 / 0.9  # ...and URLLC under 90 % utilization for its latency
        objective = self.spec.objective if self.spec is not None else None
        self._fill = objective is None or objective.cost < objective.compliance
        self.unsafe_steps = 0

    def act(self, observation: Observation) -> Action:
        layout = self.ctx.card.layout
        t = min(self._t, self.ctx.card.horizon - 1)
        self._t += 1
        demand = observation["egw_demand"].reshape(layout.n_cells, 3) * self._nominal  # Mbps
        p = demand * self._headroom / self._nominal
        b = (self._cell_link.T @ demand) * self._headroom / self._link_mbps
        p, b = self._fit(p), self._fit(b)
        if self._bounds is not None:
            bp, bb = self._bounds.at(t).project(p[None], b[None])
            starved = starved_slices(self._scenario, (p[None], b[None]), (bp, bb), demand[None], self._waived)
            if starved:
                self.unsafe_steps += 1
            else:
                p, b = bp[0], bb[0]
        return layout.pack(p, b)

    def metrics(self) -> dict[str, float]:
        """Steps whose bounded plan was refused as unsafe (the unbounded plan was played)."""
        return {"unsafe_steps": float(self.unsafe_steps)}

    def _fit(self, shares: np.ndarray, fill: bool | None = None) -> np.ndarray:
        """Rows scaled down to sum <= 1; with ``fill``, leftover capacity split in proportion."""
        total = shares.sum(axis=1, keepdims=True)
        out = np.where(total > 1.0, shares / np.maximum(total, 1e-12), shares)
        if self._fill if fill is None else fill:
            total = out.sum(axis=1, keepdims=True)
            out = np.where(total > 0, out / np.maximum(total, 1e-12), 1 / 3)
        return np.clip(out, 0.0, 1.0).astype(np.float32)
