"""The TWM planner (paper section X-B): world models rank, the twin verifies, the LLM layer guards.

**What each model sees** (SPEC §9). The FWM reads the exogenous world as the agent observes it:
every step the planner infers the exogenous state from the observation's ``egw_*`` keys
(:func:`twm_agents.fwm.observed.observed_state`), never the environment's hidden state. The CDWM
observes the controllable world (its observations, the actions, the KPIs) and, in the default
``sets-fields`` checkpoint, the FWM's field summaries of every step it imagines: the exogenous world
reaches it only through the FWM. The twin verifies from the live snapshot, as the paper's does.

**Phase 1**, once per horizon (the episode's first step), from the live state:

1. *surrogates* score the 256 library candidates: the CDWM's predicted episode utility (one
   latent sample per member) and the FWM's spatial risk of the candidate's shares on the field
   seen now; the ``shortlist`` best (default 128) go on;
2. the LLM layer's *prescreen* drops structurally unsafe candidates (zero cost to the models);
3. the survivors are *ranked* with uncertainty: CDWM utility with ``samples`` draws per member,
   minus ``pessimism`` x the members' disagreement, minus ``risk_weight`` x the FWM risk;
4. the ``verify`` best are *simulator-verified*: ``verify_seeds`` rollouts each of the nominal
   twin from the live snapshot (3 x 4 = 12 calls per horizon: 384 over the paper's 32). The best
   verified mean utility among those whose violation rate passes the guardrail is executed; if
   none passes, uniform 1/3 is;
5. *trim* (ours): the CDWM scores the executed plan against copies with one slice's shares scaled
   by each of ``trims`` (0.9, 0.8), and the best copy that gains utility at no higher predicted
   violation probability is played instead: capacity off the slices that do not bind the SLA.

**Phase 2**, every later step: the CDWM re-scores the executing plan from the episode so far
(and the FWM the step's shares on the live field). A *corner case* is a predicted violation
probability above ``trigger_violation``, a members' disagreement above ``trigger_disagreement``,
or a spatial risk above ``trigger_risk``. Then the LLM layer proposes alternatives — its
templates (``agents/twm_agents/llm/interventions.py``) applied to the plan from this step, and the
remaining steps of the best Phase-1 survivors — scored together by the world models; the best
one must pass the guardrail and the **do-no-harm gate** (predicted utility above the current
plan's by ``margin``, pessimistically no worse) before it replaces the plan.

**Hand-over** (ours; the paper has none). Every step the planner compares what the CDWM predicted
for the step just played with what was observed, for every quantity an SLA reads: each slice's
loss and the share of URLLC latency samples above the d99 ceiling. When the smoothed ratio
observed / predicted of any of them passes ``handover_trigger``, the world model is wrong about this
episode (an out-of-distribution shock); its rankings, and the do-no-harm gate that reads them, can
no longer be trusted, and the planner hands the rest of the episode to the closed-loop ``handover``
policy, which needs no model (the shipped PPO policy by default). In distribution it seldom fires
(``docs/explanation/findings.md``).

**The intent** (paper sections V-VI). When the episode carries an operator intent
(``card.intent``, ``docs/explanation/intents.md``), the LLM layer compiles it once per scenario and intent,
and the safety check refuses a spec whose share bounds would starve a slice. The spec's objective
and SLA ceilings become the utility the planner ranks, verifies and gates by
(:class:`~twm_gym.intents.IntentUtility`), and its share bounds the admissible set: the library,
every Phase-2 proposal and trim, and the hand-over policy's actions are moved into them before
they are scored or played. An intent that does not compile leaves the default objective.

Every decision (scores, verification, triggers, proposals, verdicts) goes to the audit trace
when ``trace`` names a file. Phase timings are returned by :meth:`TWMPlanner.metrics` and land in
the benchmark records. The single-world agents and the ablations are configurations of this
class (``agents/twm_agents/twm/__init__.py``), so comparisons differ in one switch at a time.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from numpy.typing import NDArray

from twm_agents.base import Action, Agent, EpisodeContext, Observation
from twm_agents.cdwm.data import KPI_NAMES, LATENCY_THRESHOLDS_MS, flatten_obs, live_step_kpi_vector
from twm_agents.cdwm.fieldinfo import field_summary, plan_summaries
from twm_agents.cdwm.predictor import CDWMModel, Ranking
from twm_agents.checkpoint_io import CheckpointError
from twm_agents.fwm.observed import observed_state
from twm_agents.fwm.predictor import FieldModel
from twm_agents.fwm.scorer import FieldScorer
from twm_agents.llm.backends import BackendConfig, compile_with, make_backend
from twm_agents.llm.decide import choose_template, model_prescreen
from twm_agents.llm.interventions import TEMPLATES, AuditTrace, Proposal, Verdict, apply, do_no_harm, guardrail
from twm_agents.llm.prescreen import prescreen
from twm_gym.core.candidates import CandidateLibrary
from twm_gym.core.compiled import compile_scenario
from twm_gym.core.egw import initial_egw
from twm_gym.core.kpi import KPIs, Utility, step_cost, violation_certain
from twm_gym.core.params import SLICES, Scenario
from twm_gym.core.state import EGWState, Snapshot
from twm_gym.intents import IntentUtility, ShareBounds, share_bounds

F32 = NDArray[np.float32]


@dataclass(frozen=True)
class PlannerConfig:
    """Every switch and number of the planner (defaults: the paper's TWM).

    Attributes:
        fwm: score with the Field World Model (spatial risk).
        cdwm: score with the Control/Dynamics World Model (utility rollouts).
        prescreen: drop structurally unsafe candidates before ranking.
        llm_layer: the LLM layer (paper sections V-VI): compile the episode's intent
            (``card.intent``) into the objective and SLA ceilings the planner ranks, verifies and
            gates by (:class:`~twm_gym.intents.IntentUtility`) and the admissible set every plan is
            moved into (:meth:`~twm_gym.intents.ShareBounds.project`: the library, Phase-2 proposals
            and hand-over actions), after the effect-based safety check
            (:mod:`twm_agents.llm.safety`); prescreen the library; propose template edits in Phase 2.
            ``False``: the default objective, no prescreen, no templates.
        phase2: monitor every step and apply gated interventions.
        shortlist: candidates kept by the surrogates (of 256).
        verify: candidates simulator-verified per horizon (0: none; the best ranked is executed).
        verify_seeds: nominal-twin rollouts per verified candidate.
        model_weight: the CDWM's predicted utility counts as this many verified rollouts when the
            verified candidates are compared (0: the verified mean alone).
        samples: CDWM latent draws per member when ranking the survivors.
        pessimism: ranking score = utility - pessimism x members' disagreement - risk_weight x risk.
        risk_weight: weight of the FWM spatial risk in the TWM score (utility units per unit risk).
        risk_steps: FWM scores a plan at every ``risk_steps``-th of its remaining steps.
        guardrail: largest violation rate (verified) or probability (predicted) an executed plan may have.
        trigger_violation / trigger_disagreement / trigger_risk: Phase-2 corner-case triggers.
        margin: do-no-harm gate margin (utility units).
        cost_weight: weight of the cost reduction in the utility the planner ranks, verifies and gates
            by (:class:`~twm_gym.core.kpi.Utility` with ``w_cost = cost_weight``; the benchmark scores
            every agent with 0.5). Higher trades compliance for savings: the operator's knob along the
            cost-compliance front (docs/explanation/findings.md).
        violation_weight: weight of the violation indicator in that utility (the benchmark's 1). With
            0 the planner ranks, verifies and gates by ``SCM + cost_weight x dcost`` (SCM is already 0
            in a violating episode): the paper's compliance measure alone, as its SCM comparison
            reads. The guardrail still reads the violation rate.
        amounts: template amounts the LLM layer may propose.
        template_margin: extra margin a template edit must clear (its shares lie off the library the
            CDWM was trained around, where its predictions are least trustworthy).
        alternatives: Phase-1 survivors offered as alternatives in Phase 2.
        cheap_alternatives: the library's cheapest candidates also offered in Phase 2 (scored like
            every alternative; they win where the saving outweighs the margin they give up).
        trace: JSON-lines audit trace path ('' for none).
        llm_backend: the LLM layer's backend ('' for ``TWM_LLM_BACKEND``, else embedded). A model
            backend decides the prescreen (once per scenario) and picks the template at a corner
            case (executing plan past the guardrail; once per episode); its answers are validated
            and fall back to the embedded rules (``agents/twm_agents/llm/decide.py``).
        handover: agent spec of the closed-loop policy the planner hands the episode to when its CDWM
            is observed to be wrong ('' for none; needs ``cdwm`` and ``phase2``). A policy that cannot
            play the scenario's city (a checkpoint trained for another shape) is skipped there, with a
            ``handover-unavailable`` trace record.
        handover_trigger: hand over when the smoothed ratio observed / predicted of the last step's
            loss of any slice or URLLC latency exceedance passes this (> 1; each with a floor, see
            :func:`prediction_drift`).
        handover_smoothing: weight of the newest step in the exponential smoothing of the log ratios.
        lock_in: once the played steps make an SLA violation certain
            (:func:`~twm_gym.core.kpi.violation_certain`), play the library's cheapest plan for the rest
            of the episode. Ours, not the paper's, and off by default: it pays only under a utility
            whose violation term is constant (``Utility(w_excess=0)``); the default utility charges
            the deeper breach that shedding capacity causes (docs/explanation/planner.md).
        lock_in_offered: the traffic still to be offered is bounded by this many times the largest
            per-step offered traffic seen so far, per slice and remaining step (the loss test).
        trims: factors (in (0, 1)) by which Phase 1 tries to scale one slice's radio and transport
            shares of the executed plan, every slice and factor (ours; () for none; needs
            ``cdwm``). Capacity costs money and buys margin only on the slice that binds the SLA
            (SCM is the worst slice's headroom, paper eq. 2); the CDWM scores the plan and its
            trims together, with common noise, and the best trim replaces the plan when its score
            beats the plan's by ``trim_margin`` and its predicted violation probability is no
            higher.
        trim_margin: the score gain (utility units) a trim needs.
        fwm_checkpoint / cdwm_checkpoint: checkpoint paths, or names of shipped checkpoints
            (``twm_agents.fwm.predictor.SHIPPED_CHECKPOINTS``, ``twm_agents.cdwm.predictor.SHIPPED_CHECKPOINTS``).
            '' is the paper's layering for any city: the CDWM ``sets-fields`` (it observes the
            controllable world alone and reads the FWM's field summaries) with ``fwm``, else
            ``sets-csw`` (the same without fields); the FWM the CDWM was trained with, else ``sets``.
            Both are trained on the generated ``train`` split. The planner never picks a
            checkpoint by the scenario's name or family.
    """

    fwm: bool = True
    cdwm: bool = True
    prescreen: bool = True
    llm_layer: bool = True
    phase2: bool = True
    shortlist: int = 128
    verify: int = 3
    verify_seeds: int = 4
    model_weight: float = 0.0
    samples: int = 4
    pessimism: float = 0.5
    risk_weight: float = 0.0
    risk_steps: int = 3
    guardrail: float = 0.5
    trigger_violation: float = 0.0
    trigger_disagreement: float = 0.0
    trigger_risk: float = 0.45
    margin: float = 0.05
    cost_weight: float = 0.5
    violation_weight: float = 1.0
    amounts: tuple[float, ...] = (0.1, 0.2)
    template_margin: float = 0.15
    alternatives: int = 16
    cheap_alternatives: int = 4
    trace: str = ""
    llm_backend: str = ""
    handover: str = "ppo"
    handover_trigger: float = 3.0
    handover_smoothing: float = 0.5
    lock_in: bool = False
    lock_in_offered: float = 2.0
    trims: tuple[float, ...] = (0.9, 0.8)
    trim_margin: float = 0.0
    fwm_checkpoint: str = ""
    cdwm_checkpoint: str = ""

    def __post_init__(self) -> None:
        if not (self.fwm or self.cdwm):
            raise ValueError("fwm / cdwm: the planner needs at least one world model")
        for name in ("shortlist", "verify_seeds", "samples", "risk_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        for name in ("verify", "alternatives", "cheap_alternatives"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be >= 0, got {getattr(self, name)}")
        for name in ("margin", "template_margin", "pessimism", "risk_weight", "model_weight", "trigger_disagreement"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0.0):
                raise ValueError(f"{name}: must be finite and >= 0, got {value}")
        for name in ("trigger_violation", "trigger_risk"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: must be in [0, 1], got {getattr(self, name)}")
        if not (np.isfinite(self.cost_weight) and self.cost_weight >= 0.0):
            raise ValueError(f"cost_weight: must be finite and >= 0, got {self.cost_weight}")
        if not (np.isfinite(self.violation_weight) and self.violation_weight >= 0.0):
            raise ValueError(f"violation_weight: must be finite and >= 0, got {self.violation_weight}")
        if not 0.0 <= self.guardrail <= 1.0:
            raise ValueError(f"guardrail: must be in [0, 1], got {self.guardrail}")
        if not self.handover_trigger > 1.0:
            raise ValueError(f"handover_trigger: must be > 1 (observed / predicted), got {self.handover_trigger}")
        if not (np.isfinite(self.lock_in_offered) and self.lock_in_offered >= 1.0):
            raise ValueError(f"lock_in_offered: must be finite and >= 1, got {self.lock_in_offered}")
        if not 0.0 < self.handover_smoothing <= 1.0:
            raise ValueError(f"handover_smoothing: must be in (0, 1], got {self.handover_smoothing}")
        for a in self.amounts:
            Proposal(TEMPLATES[0], a)  # raises naming the valid range
        if not all(0.0 < f < 1.0 for f in self.trims):
            raise ValueError(f"trims: every factor must be in (0, 1), got {list(self.trims)}")
        if not (np.isfinite(self.trim_margin) and self.trim_margin >= 0.0):
            raise ValueError(f"trim_margin: must be finite and >= 0, got {self.trim_margin}")


LAYERED_CDWM = "sets-fields"
"""The CDWM of the paper's layering: it observes the controllable world and reads the FWM's fields."""
CSW_CDWM = "sets-csw"
"""The CDWM without an FWM: it observes the controllable world alone."""
ANY_CITY_FWM = "sets"
"""The FWM that reads any city (trained on the generated ``train`` split)."""

_MODELS: dict[tuple[str, str], Any] = {}


def _field_model(path: str) -> FieldModel:
    key = ("fwm", path)
    if key not in _MODELS:
        _MODELS[key] = FieldModel.named(path, device="cpu")
    return _MODELS[key]  # type: ignore[no-any-return]


def _dynamics_model(path: str) -> CDWMModel:
    key = ("cdwm", path)
    if key not in _MODELS:
        _MODELS[key] = CDWMModel.named(path, device="cpu")
    return _MODELS[key]  # type: ignore[no-any-return]


@dataclass(frozen=True, eq=False)
class Scores:
    """World-model scores of ``N`` plans (higher ``score`` is better)."""

    score: F32  # (N,) what the planner ranks by
    utility: F32  # (N,) CDWM mean utility (0 without a CDWM)
    disagreement: F32  # (N,) CDWM members' spread of the mean utility
    p_violation: F32  # (N,) CDWM calibrated violation probability (FWM: risk above 0.5 as a proxy)
    risk: F32  # (N,) FWM spatial risk (0 unless the FWM ranks: see TWMPlanner.score)
    next_kpi: F32  # (N, K) CDWM mean KPIs (``KPI_NAMES``) of each plan's next step ((N, 0) without a CDWM)


class TWMPlanner(Agent):
    """The TWM planner; options are :class:`PlannerConfig` fields (e.g. ``verify=0``)."""

    name: ClassVar[str] = "twm"
    defaults: ClassVar[dict[str, Any]] = {}
    """Overrides of :class:`PlannerConfig` that make a named configuration (``fwm-only``, ...)."""

    def __init__(self, **options: Any) -> None:
        super().__init__()
        valid = {f.name for f in fields(PlannerConfig)}
        unknown = sorted(set(options) - valid)
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown options {unknown}; valid: {sorted(valid)}")
        self.config = PlannerConfig(**{**self.defaults, **options})
        self._default_utility = Utility(w_cost=self.config.cost_weight, w_violation=self.config.violation_weight)
        self.utility: Utility | IntentUtility = self._default_utility
        cdwm_ref = self.config.cdwm_checkpoint or (LAYERED_CDWM if self.config.fwm else CSW_CDWM)
        self.cdwm = _dynamics_model(cdwm_ref) if self.config.cdwm else None
        self._fwm_features = self.cdwm is not None and self.cdwm.shape.fwm_dim > 0
        fwm_ref = self.config.fwm_checkpoint
        if self._fwm_features and not fwm_ref and self.cdwm is not None:  # the FWM this CDWM was trained on
            fwm_ref = str(self.cdwm.meta.get("config", {}).get("fwm_checkpoint", ""))
        self.fwm = _field_model(fwm_ref or ANY_CITY_FWM) if self.config.fwm else None
        if self._fwm_features and self.fwm is None:
            raise ValueError(
                "cdwm_checkpoint: this CDWM was trained with FWM features and needs the field model (fwm=True)"
            )
        name = {"name": self.config.llm_backend} if self.config.llm_backend else {}
        self.llm_config = BackendConfig.from_env(**name)
        self.llm = make_backend(self.llm_config)
        self.trace = AuditTrace(Path(self.config.trace), backend=self.llm_config.name) if self.config.trace else None
        self.handover: Agent | None = None
        if self.config.handover and self.config.cdwm and self.config.phase2:
            from twm_agents.registry import make_agent  # the registry names this module: import late

            self.handover = make_agent(self.config.handover)
        self._timing: dict[str, list[float]] = {}

    # -- episode ---------------------------------------------------------------------------------

    def reset(self, context: EpisodeContext) -> None:
        super().reset(context)
        scenario = context.card.nominal
        if getattr(self, "_scenario", None) is not scenario:
            self._scenario: Scenario = scenario
            self._scorer = FieldScorer(self.fwm, scenario) if self.fwm is not None else None
            lib = context.card.library
            if not self.config.llm_layer:
                self._safe = np.ones(len(lib), bool)
            elif self.llm is None:
                self._safe = prescreen(scenario, lib).keep
            else:
                decision = model_prescreen(scenario, lib, self.llm, name=self.llm_config.name)
                self._safe = decision.value.keep
                self._log_prescreen = {
                    "backend": decision.backend,
                    "fell_back": decision.fell_back,
                    "rejected_answers": decision.rejected,
                    "kept": int(decision.value.keep.sum()),
                }
            self._safe_default = self._safe
            self._intent_key = None
        self._read_intent(context)
        if getattr(self, "_cheap_for", None) is not self._lib:
            self._cheap_for = self._lib
            cost = _policy_cost(scenario, self._lib.p, self._lib.b)
            self._cheap = np.argsort(cost, kind="stable")[: self.config.cheap_alternatives]
        self._obs: list[F32] = []
        self._acts: list[F32] = []
        self._kpis: list[F32] = []
        self._fields: list[F32] = []  # FWM summaries of the played actions (a CDWM with FWM features)
        self._library_fields: tuple[Snapshot, int, F32] | None = None  # Phase 1: (snapshot, step, (N, H, F))
        self._snap: Snapshot | None = None
        self._egw: EGWState = initial_egw(compile_scenario(scenario), 1)  # the FWM's input: inferred from observations
        self._plan: tuple[F32, F32] | None = None
        self._survivors: NDArray[np.int64] = np.zeros(0, np.int64)
        self._timing = {"phase1_ms": [], "phase2_ms": [], "verify_ms": []}
        self.interventions = 0
        self.fallback = False
        self.handed_over_at = -1  # step of the hand-over (-1: none this episode)
        self.locked_at = -1  # step from which a violation was certain (-1: none this episode)
        self._peak_offered = np.zeros(len(self._scenario.sla.loss_ceiling), np.float32)  # Mbit per step
        self._expected: F32 | None = None  # the CDWM's mean KPIs for the step being played
        self._drift = np.zeros(len(DRIFT_TERMS))  # smoothed log(observed / predicted) of each SLA quantity
        self._can_hand_over = self.handover is not None
        if self.handover is not None:
            _exceedance_column(self._scenario)  # a ceiling the CDWM does not track fails here, not mid-episode
            try:
                self.handover.reset(context)
            except CheckpointError as exc:  # a policy trained for another city's shape cannot play this one
                self._can_hand_over = False
                self._log("handover-unavailable", {"to": self.config.handover, "reason": str(exc)})
        self._asked_model = False
        self._last_p_violation = 0.0

    def act(self, observation: Observation) -> Action:
        t = self._t
        self._t += 1
        snap = self.ctx.snapshot()
        if t > 0 and self._snap is not None:
            util = observation["csw_radio_util"]
            self._kpis.append(live_step_kpi_vector(self._scenario, self._snap, snap, util))
            self._watch(t)
            self._check_lock(t, self._snap, snap)
        self._snap = snap
        self._obs.append(flatten_obs(observation))
        if self.fwm is not None:  # the FWM reads what the agent observes of the exogenous world
            self._egw = observed_state(self._scenario, observation)
        if self.handed_over_at >= 0 and self.locked_at < 0:
            assert self.handover is not None
            start = time.perf_counter()
            action = self.handover.act(observation)
            if self._bounds is not None:  # the hand-over policy plays inside the admissible set too
                layout = self.ctx.card.layout
                hp, hb = layout.unpack(action)
                step = min(self._t - 1, self.ctx.card.horizon - 1)
                bp, bb = self._bounds.at(step).project(hp[None], hb[None])
                action = layout.pack(bp[0], bb[0])
            self._timing["phase2_ms"].append(1e3 * (time.perf_counter() - start))
            self._acts.append(action)
            return action
        if self._plan is None:
            self._phase1(snap)
        elif self.config.phase2 and self.locked_at < 0:
            start = time.perf_counter()
            self._phase2(t, snap)
            self._timing["phase2_ms"].append(1e3 * (time.perf_counter() - start))
        assert self._plan is not None
        p, b = self._plan
        action = self.ctx.card.layout.pack(p[t], b[t])
        self._acts.append(action)
        if self._fwm_features:
            assert self.fwm is not None
            self._fields.append(field_summary(self.fwm, self._scenario, self._egw, t, p[t][None], b[t][None])[0])
        return action

    def metrics(self) -> dict[str, float]:
        """Mean wall time per decision of each phase (ms; Phase 1 excludes verification) and counts."""
        out = {k: float(np.mean(v)) for k, v in self._timing.items() if v}
        out["interventions"] = float(self.interventions)
        out["fallback"] = float(self.fallback)
        out["handover"] = float(self.handed_over_at >= 0)
        out["locked"] = float(self.locked_at >= 0)
        return out

    def _check_lock(self, t: int, before: Snapshot, now: Snapshot) -> None:
        """Switch to the library's cheapest remaining steps once step ``t - 1`` made a violation certain."""
        cfg = self.config
        step = (now.ledger.offered - before.ledger.offered)[0]
        self._peak_offered = np.maximum(self._peak_offered, step)
        if not cfg.lock_in or self.locked_at >= 0 or self._plan is None:
            return
        future = (cfg.lock_in_offered * (self.ctx.card.horizon - t) * self._peak_offered)[None]
        if not violation_certain(self._scenario, now.ledger, t, future.astype(np.float32))[0]:
            return
        lib = self._lib
        cheapest = int(np.argmin(_policy_cost(self._scenario, lib.p[:, t:], lib.b[:, t:])))
        p, b = self._plan[0].copy(), self._plan[1].copy()
        p[t:], b[t:] = lib.p[cheapest, t:], lib.b[cheapest, t:]
        self._plan = (p, b)
        self.locked_at = t
        self._log("phase2-locked", {"step": t, "plan": lib.names[cheapest], "handed_over": self.handed_over_at >= 0})

    def _watch(self, t: int) -> None:
        """Compare step ``t - 1``'s observed KPIs with the CDWM's prediction; hand over past the trigger."""
        cfg = self.config
        if not self._can_hand_over or self._expected is None or self.handed_over_at >= 0:
            return
        drift = prediction_drift(self._scenario, self._expected, self._kpis[t - 1])
        a = cfg.handover_smoothing
        self._drift = np.clip((1 - a) * self._drift + a * drift, *_DRIFT_CLIP)
        ratio = np.exp(self._drift)
        if ratio.max() > cfg.handover_trigger:
            self.handed_over_at = t
            inputs = {"step": t, **{f"{term}_ratio": float(r) for term, r in zip(DRIFT_TERMS, ratio, strict=True)}}
            self._log("phase2-handover", {**inputs, "to": cfg.handover, "trigger": cfg.handover_trigger})

    # -- the intent ----------------------------------------------------------------------------

    def _read_intent(self, context: EpisodeContext) -> None:
        """Compile the episode's intent (once per scenario and intent): the utility the planner
        ranks, verifies and gates by, and the admissible set (the library moved into its bounds)."""
        card, scenario = context.card, context.card.nominal
        text = card.intent if self.config.llm_layer else None
        key = (scenario, text, card.waived)
        if getattr(self, "_intent_key", None) == key:
            return
        self._intent_key = key
        self.intent_issues: list[str] = []
        self._bounds: ShareBounds | None = None
        self._lib = card.library
        self.utility = self._default_utility
        self._safe = self._safe_default
        if text is None:
            return
        compiled = compile_with(text, scenario, self.llm_config, waived=card.waived, backend=self.llm)
        self.intent_issues = [f"{i.field}: {i.message}" for i in compiled.issues]
        self._log("intent", {"text": text, "backend": compiled.backend, "issues": self.intent_issues})
        if compiled.spec is None:
            return  # refused or not understood: the default objective, as without an intent
        spec = compiled.spec
        self.utility = IntentUtility.of(spec, scenario, card.waived, w_violation=self.config.violation_weight)
        if spec.restrictions:
            bounds = share_bounds(spec, scenario)
            self._bounds = bounds
            p, b = bounds.project(card.library.p, card.library.b)
            self._lib = CandidateLibrary(p=p, b=b, names=card.library.names)
            self._safe = prescreen(scenario, self._lib).keep if self.config.prescreen else self._safe

    def _admissible(self, p: F32, b: F32) -> tuple[F32, F32]:
        """A plan (or plans) moved into the intent's share bounds (unchanged without bounds)."""
        return (p, b) if self._bounds is None else self._bounds.project(p, b)

    def _violated(self, kpis: KPIs) -> NDArray[np.bool_]:
        """Rollouts that break an SLA ceiling of the utility the planner uses (the intent's, if any)."""
        if isinstance(self.utility, IntentUtility):
            return np.asarray(self.utility.sla_use(kpis.loss, kpis.d99_ms) > 1.0)
        return np.asarray(kpis.global_violation)

    # -- scoring ---------------------------------------------------------------------------------

    def _seed_models(self, tag: str) -> None:
        """Seed torch's sampler from the agent's generator: identical decisions for a fixed seed."""
        torch.manual_seed(int(self.ctx.rng.integers(2**31)) ^ zlib.crc32(tag.encode()))

    def score(
        self, t: int, snap: Snapshot, p: F32, b: F32, samples: int, rows: NDArray[np.intp] | None = None
    ) -> Scores:
        """World-model scores of ``N`` plans' remaining steps ``p (N, H, C, S)``, ``b (N, H, L, S)``.

        ``rows``: the plans are these rows of the whole library at step ``t`` (Phase 1), so a CDWM
        conditioned on the FWM reuses the library's field summaries of the same step.

        The FWM's spatial risk is computed when it ranks (no CDWM, or ``risk_weight`` > 0): every
        plan's at every ``risk_steps``-th remaining step. Otherwise it is 0 here and the Phase-2
        monitor reads the executing plan's risk itself (:meth:`_monitor_risk`).
        """
        cfg, n = self.config, p.shape[0]
        zeros = np.zeros(n, np.float32)
        utility, disagreement, p_violation, risk = zeros, zeros, zeros, zeros
        if self._scorer is not None and self._risk_ranks:
            steps = range(0, p.shape[1], cfg.risk_steps)
            scored = [self._scorer.score(self._egw, t + k, p[:, k], b[:, k]).risk for k in steps]
            risk = np.mean(scored, axis=0).astype(np.float32)
        next_kpi = np.zeros((n, 0), np.float32)
        if self.cdwm is not None:
            r = self._rank(t, snap, p, b, samples, rows)
            utility, disagreement, p_violation = r.utility, r.disagreement, r.p_violation
            next_kpi = r.imagined.draws[:, :, :, 0, :].mean(axis=(0, 2))
            score = utility - cfg.pessimism * disagreement - (cfg.risk_weight * risk if self.fwm else 0.0)
        else:  # FWM only: spatial risk alone, its excess over demand-at-capacity as the violation proxy
            score = -risk
            p_violation = np.clip((risk - 0.5) * 4.0, 0.0, 1.0).astype(np.float32)
        return Scores(np.asarray(score, np.float32), utility, disagreement, p_violation, risk, next_kpi)

    def _rank(
        self, t: int, snap: Snapshot, p: F32, b: F32, samples: int, rows: NDArray[np.intp] | None = None
    ) -> Ranking:
        assert self.cdwm is not None
        obs = np.stack(self._obs[: t + 1])
        width = self.ctx.card.layout.action_size
        act = np.stack(self._acts[:t]) if t else np.zeros((0, width), np.float32)
        kpi = np.stack(self._kpis[:t]) if t else np.zeros((0, len(KPI_NAMES)), np.float32)
        field: dict[str, Any] = {}
        if self._fwm_features:  # the FWM conditions the CDWM (paper section X-B): past fields and the one seen now
            past = np.stack(self._fields[:t]) if t else np.zeros((0, self.cdwm.shape.fwm_dim), np.float32)
            field = {"fwm": self.fwm, "egw_state": self._egw, "history_fwm": past}
            if rows is not None:  # Phase 1: the library's summaries at this step, computed once
                cached = self._library_fields
                if cached is None or cached[0] is not snap or cached[1] != t:
                    lib = self._lib
                    assert self.fwm is not None
                    summaries = plan_summaries(self.fwm, self._scenario, self._egw, t, lib.p[:, t:], lib.b[:, t:])
                    cached = self._library_fields = (snap, t, summaries)
                field["future_fwm"] = cached[2][rows]
        return self.cdwm.rank(
            self._scenario, obs, act, kpi, p, b, samples=samples, utility=self.utility, intervals=False, **field
        )

    # -- Phase 1 ---------------------------------------------------------------------------------

    def _phase1(self, snap: Snapshot) -> None:
        cfg, lib, twin = self.config, self._lib, self.ctx.twin
        start = time.perf_counter()
        self._seed_models("surrogate")
        every = np.arange(len(lib))
        surrogate = self.score(0, snap, lib.p, lib.b, samples=1, rows=every)
        order = every[np.argsort(-surrogate.score, kind="stable")]
        short = order[: cfg.shortlist]
        survivors = short[self._safe[short]] if cfg.prescreen else short
        if survivors.size == 0:
            survivors = short  # nothing passes the prescreen: rank the shortlist rather than nothing
        self._seed_models("rank")
        ranked = self.score(0, snap, lib.p[survivors], lib.b[survivors], samples=cfg.samples, rows=survivors)
        best_first = np.argsort(-ranked.score, kind="stable")
        next_kpi = ranked.next_kpi[best_first]
        survivors = survivors[best_first]
        self._survivors = survivors[: max(cfg.alternatives, 1)]
        phase1_s = time.perf_counter() - start
        inputs = {
            "step": 0,
            "library": len(lib),
            "shortlist": len(short),
            "survivors": len(survivors),
            "top": [lib.names[i] for i in survivors[:5]],
            "top_scores": ranked.score[best_first][:5],
            "top_p_violation": ranked.p_violation[best_first][:5],
            "prescreen": getattr(self, "_log_prescreen", {"backend": "embedded"}),
        }
        self._log("phase1-rank", inputs)

        start = time.perf_counter()
        left = twin.remaining
        k = cfg.verify if left is None else min(cfg.verify, left // cfg.verify_seeds)
        k = min(k, len(survivors))  # fewer survivors than verification slots: verify them all
        if k > 0:
            picks = survivors[:k]
            seeds = self.ctx.episode * cfg.verify_seeds + np.arange(cfg.verify_seeds)
            out = twin.rollout(
                lib.p[picks].repeat(cfg.verify_seeds, 0),
                lib.b[picks].repeat(cfg.verify_seeds, 0),
                np.tile(seeds, k),
                start=snap,
            )
            u = self.utility(out.kpis).reshape(k, cfg.verify_seeds).mean(axis=1)
            if self.cdwm is not None and cfg.model_weight > 0:
                predicted = ranked.utility[best_first][:k]
                u = (cfg.verify_seeds * u + cfg.model_weight * predicted) / (cfg.verify_seeds + cfg.model_weight)
            viol = self._violated(out.kpis).reshape(k, cfg.verify_seeds).mean(axis=1)
            passing = viol <= cfg.guardrail
            verdicts = [guardrail(float(v), cfg.guardrail) for v in viol]
            choice = int(picks[np.argmax(np.where(passing, u, -np.inf))]) if passing.any() else None
            self._log(
                "phase1-verify",
                {"candidates": [lib.names[i] for i in picks], "utility": u, "violation_rate": viol},
                verdicts[int(np.argmax(np.where(passing, u, -np.inf)))] if passing.any() else verdicts[0],
                sim_calls=int(k * cfg.verify_seeds),
            )
        else:  # no budget to verify: the predicted best, if the guardrail lets it through
            best = int(best_first[0])
            verdict = guardrail(float(ranked.p_violation[best]), cfg.guardrail)
            choice = int(survivors[0]) if verdict.accept else None
            self._log("phase1-unverified", {"candidate": lib.names[int(survivors[0])]}, verdict)
        self._timing["verify_ms"].append(1e3 * (time.perf_counter() - start))
        self._timing["phase1_ms"].append(1e3 * phase1_s)
        if choice is None:
            self.fallback = True
            shape_p, shape_b = lib.p.shape[1:], lib.b.shape[1:]
            self._plan = (np.full(shape_p, 1 / 3, np.float32), np.full(shape_b, 1 / 3, np.float32))
            self._log("phase1-fallback", {"reason": "no candidate passed verification"})
        else:
            self._plan = (lib.p[choice].copy(), lib.b[choice].copy())
            self._log("phase1-execute", {"candidate": lib.names[choice]})
            if next_kpi.shape[1]:
                self._expected = next_kpi[int(np.flatnonzero(survivors == choice)[0])]
            if cfg.trims and self.cdwm is not None:
                start = time.perf_counter()
                self._trim(snap)
                self._timing["phase1_ms"][-1] += 1e3 * (time.perf_counter() - start)  # Phase-1 work too

    def _trim(self, snap: Snapshot) -> None:
        """Scale one slice of the plan down where the CDWM sees the saving pay (``trims``; Phase 1, t = 0)."""
        cfg = self.config
        assert self._plan is not None
        plan_p, plan_b = self._plan
        variants: list[tuple[str, F32, F32]] = [("plan", plan_p, plan_b)]
        for k, slice_name in enumerate(SLICES):
            for factor in cfg.trims:
                p, b = plan_p.copy(), plan_b.copy()
                p[..., k] *= np.float32(factor)
                b[..., k] *= np.float32(factor)
                variants.append((f"{slice_name}x{factor:g}", *self._admissible(p, b)))
        self._seed_models("trim-0")
        pp, bb = np.stack([v[1] for v in variants]), np.stack([v[2] for v in variants])
        scored = self.score(0, snap, pp, bb, cfg.samples)
        gain = scored.score[1:] - scored.score[0]
        allowed = (gain > cfg.trim_margin) & (scored.p_violation[1:] <= scored.p_violation[0])
        best = 1 + int(np.argmax(np.where(allowed, gain, -np.inf))) if allowed.any() else 0
        self._log(
            "trim",
            {
                "step": 0,
                "trims": [v[0] for v in variants[1:]],
                "gain": gain,
                "p_violation": scored.p_violation,
                "chosen": variants[best][0],
            },
        )
        if best:
            self._plan = (variants[best][1], variants[best][2])
            self._expected = scored.next_kpi[best] if scored.next_kpi.shape[1] else self._expected

    # -- Phase 2 ---------------------------------------------------------------------------------

    def _phase2(self, t: int, snap: Snapshot) -> None:
        cfg, lib = self.config, self._lib
        assert self._plan is not None
        plan_p, plan_b = self._plan
        proposals: list[tuple[str, F32, F32]] = [("current", plan_p, plan_b)]
        for proposal in self._templates(t):
            p, b = self._admissible(*apply(proposal, self._scenario, plan_p, plan_b))
            proposals.append((f"{proposal.template}@{proposal.amount:g}", p, b))
        offered = dict.fromkeys([*self._survivors[: cfg.alternatives].tolist(), *self._cheap.tolist()])
        for i in offered:
            p, b = plan_p.copy(), plan_b.copy()
            p[t:], b[t:] = lib.p[i, t:], lib.b[i, t:]
            proposals.append((f"switch:{lib.names[i]}", p, b))
        # One world-model pass scores the plan (the monitor) and every alternative together.
        self._seed_models(f"phase2-{t}")
        pp = np.stack([p[t:] for _, p, _ in proposals])
        bb = np.stack([b[t:] for _, _, b in proposals])
        scored = self.score(t, snap, pp, bb, cfg.samples)
        self._last_p_violation = float(scored.p_violation[0])
        self._expected = scored.next_kpi[0] if scored.next_kpi.shape[1] else None
        triggers = {
            "p_violation": bool(self.cdwm is not None and scored.p_violation[0] > cfg.trigger_violation),
            "disagreement": bool(self.cdwm is not None and scored.disagreement[0] > cfg.trigger_disagreement),
        }
        risk = self._monitor_risk(t, snap, pp, bb, scored, decides=not any(triggers.values()))
        triggers["risk"] = bool(self.fwm is not None and risk > cfg.trigger_risk)
        if not any(triggers.values()) or len(proposals) == 1:
            return
        handicap = np.array([cfg.template_margin if "@" in n else 0.0 for n, _, _ in proposals], np.float32)
        best = 1 + int(np.argmax(scored.score[1:] - handicap[1:]))
        name, p_new, b_new = proposals[best]
        # The guardrail blocks a move that raises the violation risk past the threshold; once the
        # current plan is itself past it (a violation already certain), it blocks only moves that raise it.
        guard = guardrail(float(scored.p_violation[best]), max(cfg.guardrail, float(scored.p_violation[0])))
        # The gate compares predicted utilities (the CDWM's mean and the members' spread; the FWM's
        # negated risk without a CDWM), not the ranking scores: one predictor for both plans.
        index = {id(plan_p): 0, id(p_new): best}
        gated = scored.utility if self.cdwm is not None else scored.score

        def predictor(p: F32, b: F32) -> tuple[float, float]:
            k = index[id(p)]
            return float(gated[k]), float(scored.disagreement[k])

        gate = do_no_harm((plan_p, plan_b), (p_new, b_new), predictor, margin=cfg.margin + float(handicap[best]))
        verdict: Verdict = gate if guard.accept else guard
        if guard.accept and gate.accept:
            self._plan = (p_new, b_new)
            self.interventions += 1
            self._expected = scored.next_kpi[best] if scored.next_kpi.shape[1] else None
        inputs = {
            "step": t,
            "triggers": triggers,
            "proposal": name,
            "proposals": len(proposals) - 1,
            "current_p_violation": float(scored.p_violation[0]),
            "current_risk": risk,
            "ranking_score": {"current": float(scored.score[0]), "proposed": float(scored.score[best])},
        }
        self._log("phase2-intervention", inputs, verdict, p_violation=float(scored.p_violation[best]))

    @property
    def _risk_ranks(self) -> bool:
        """Whether the FWM's risk enters the ranking score (else it only monitors)."""
        return self.cdwm is None or self.config.risk_weight > 0

    def _monitor_risk(self, t: int, snap: Snapshot, pp: F32, bb: F32, scored: Scores, decides: bool) -> float:
        """The executing plan's spatial risk at step ``t``: from the scores when the FWM ranks, else
        read from the FWM when it ``decides`` (no CDWM trigger fired) or a trace records it."""
        if self._scorer is None or self._risk_ranks:
            return float(scored.risk[0])
        if not (decides or self.trace is not None):
            return float("nan")  # not read: a CDWM trigger has already fired
        return float(self._scorer.score(self._egw, t, pp[:1, 0], bb[:1, 0]).risk[0])

    def _templates(self, t: int) -> list[Proposal]:
        """The template edits the LLM layer proposes at step ``t``: the embedded backend offers
        every template at every amount (the gate chooses); a model backend picks one, at most once
        per episode, when the executing plan is past the guardrail. None without the LLM layer."""
        if not self.config.llm_layer:
            return []
        if self.llm is None:
            return [Proposal(template, amount, t0=t) for template in TEMPLATES for amount in self.config.amounts]
        if self._asked_model or self._last_p_violation <= self.config.guardrail:
            return []
        self._asked_model = True
        decision = choose_template({"p_violation": self._last_p_violation}, self.llm, name=self.llm_config.name)
        self._log(
            "phase2-template",
            {
                "step": t,
                "backend": decision.backend,
                "rejected": decision.rejected,
                "proposal": None if decision.value is None else asdict(decision.value),
            },
        )
        return [] if decision.value is None else [replace(decision.value, t0=t)]

    def _log(self, decision: str, inputs: dict[str, Any], verdict: Verdict | None = None, **extra: Any) -> None:
        if self.trace is not None:
            config = {"agent": self.name, **{k: v for k, v in asdict(self.config).items() if k != "trace"}}
            self.trace.record(decision, inputs, verdict, episode=self.ctx.episode, config=config, **extra)


_LOST = [KPI_NAMES.index(f"lost_{s}") for s in SLICES]
_OFFERED = [KPI_NAMES.index(f"offered_{s}") for s in SLICES]
_DRIFT_CLIP = (np.log(0.25), np.log(50.0))
"""Bounds of the smoothed log ratios: one wild step neither masks nor sustains a trigger for long."""
DRIFT_TERMS: tuple[str, ...] = (*(f"{s}_loss" for s in SLICES), "urllc_exceedance")
"""The quantities :func:`prediction_drift` compares: what the SLAs read, one per slice's loss and the
URLLC latency exceedance at the d99 ceiling."""
LOSS_FLOOR = 0.1
"""Floor of a slice's loss ratio, as a fraction of that slice's loss ceiling times its predicted
traffic (Mbit): URLLC (ceiling 10 %) has a floor of 1 % of its traffic; a loss far below what the
SLA allows is no surprise, observed or predicted."""
EXCEEDANCE_FLOOR = 0.005
"""Floor of the exceedance ratio (fraction of latency samples; the d99 ceiling is broken at 0.01)."""


def prediction_drift(scenario: Scenario, expected: F32, observed: F32) -> NDArray[np.float64]:
    """``(len(DRIFT_TERMS),)`` log(observed / predicted) of one step's loss of each slice (Mbit) and
    URLLC latency exceedance at the d99 ceiling (fraction of samples), each with its floor added to
    both sides; ``expected`` and ``observed`` are ``KPI_NAMES`` vectors. Positive: worse than the
    CDWM expected. No slice is assumed to bind: whichever SLA the model is wrong about shows."""
    exceed = _exceedance_column(scenario)
    ceilings = np.asarray(scenario.sla.loss_ceiling, np.float64)
    offered = np.maximum(np.asarray(expected, np.float64)[_OFFERED], 1.0)
    floor = LOSS_FLOOR * ceilings * offered
    seen = np.maximum(np.asarray(observed, np.float64)[_LOST], 0.0)
    predicted = np.maximum(np.asarray(expected, np.float64)[_LOST], 0.0)
    late = (float(np.clip(observed[exceed], 0, 1)) + EXCEEDANCE_FLOOR) / (
        float(np.clip(expected[exceed], 0, 1)) + EXCEEDANCE_FLOOR
    )
    return np.log([*((seen + floor) / (predicted + floor)), late])


def _exceedance_column(scenario: Scenario) -> int:
    """The ``KPI_NAMES`` column of the URLLC latency exceedance at the scenario's d99 ceiling."""
    ceiling = scenario.sla.d99_ceiling_ms
    if ceiling not in LATENCY_THRESHOLDS_MS:
        raise ValueError(
            f"sla.d99_ceiling_ms: the planner's hand-over reads the CDWM's latency exceedance at the "
            f"ceiling, and {ceiling:g} ms is not one of its thresholds {LATENCY_THRESHOLDS_MS} "
            "(choose one, or turn the hand-over off with handover='')"
        )
    return KPI_NAMES.index(f"exceed_{int(ceiling)}ms")


def _policy_cost(scenario: Scenario, p: F32, b: F32) -> F32:
    """``(N,)`` total control cost of ``N`` policies over their steps (from uniform shares)."""
    n, _, c, s = p.shape
    last_p, last_b = np.full((n, c, s), 1 / 3, np.float32), np.full((n, b.shape[2], s), 1 / 3, np.float32)
    total = np.zeros(n, np.float32)
    for k in range(p.shape[1]):
        total += step_cost(scenario.cost, p[:, k], b[:, k], last_p, last_b)
        last_p, last_b = p[:, k], b[:, k]
    return total
