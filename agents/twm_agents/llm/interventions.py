"""Corner-case interventions, the do-no-harm gate, guardrails and the audit trace.

**Templates** are parameterized edits of a plan's shares ``p (T, C, S)``, ``b (T, L, S)`` for
steps ``t0..``; a backend chooses the template and its parameter, the code applies it and
projects the result back onto valid shares:

* ``boost-urllc-hospital`` (``amount`` in [0, 0.3]): add ``amount`` to URLLC in the hospital
  zone's cells, taken from eMBB and FWA in proportion to their shares;
* ``shift-corridor-links`` (``amount`` in [0, 0.3]): add ``amount`` of eMBB bandwidth on the links
  serving corridor cells, taken from FWA there;
* ``preprovision-fwa`` (``amount`` in [0, 0.3]): add ``amount`` to FWA in the FWA zone's cells
  (up to a full share).

**Do-no-harm gate**: a proposal is applied only if its predicted utility beats the current plan's
by at least ``margin`` *and* its pessimistic value (mean - ``k`` sd) is no worse than the current
plan's mean; the predictor is injected (the planner supplies the FWM and CDWM). **Guardrail**: an
action whose predicted violation probability exceeds ``threshold`` is rejected. Every decision is
a :class:`Verdict` with a human-readable explanation tied to the numbers, and
:class:`AuditTrace` appends decisions to a JSON-lines file (one ``write`` per line, ``O_APPEND``).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twm_gym.core.compiled import compile_scenario
from twm_gym.core.params import FWA, URLLC, ZONES, Scenario

F32 = NDArray[np.float32]
EMBB = 0
TEMPLATES: tuple[str, ...] = ("boost-urllc-hospital", "shift-corridor-links", "preprovision-fwa")
MAX_AMOUNT = 0.3


@dataclass(frozen=True)
class Proposal:
    template: str
    amount: float
    t0: int = 0  # first step the edit applies to

    def __post_init__(self) -> None:
        if self.template not in TEMPLATES:
            raise ValueError(f"template {self.template!r} is not one of {TEMPLATES}")
        if not (0.0 <= self.amount <= MAX_AMOUNT) or self.amount != self.amount:
            raise ValueError(f"amount must be in [0, {MAX_AMOUNT}], got {self.amount}")
        if self.t0 < 0:
            raise ValueError(f"t0 must be >= 0, got {self.t0}")


def apply(proposal: Proposal, scenario: Scenario, p: F32, b: F32) -> tuple[F32, F32]:
    """The plan ``(p (T, C, S), b (T, L, S))`` with ``proposal`` applied from its step on (copies)."""
    comp = compile_scenario(scenario)
    p, b = np.array(p, dtype=np.float32), np.array(b, dtype=np.float32)
    steps = slice(proposal.t0, None)
    x = np.float32(proposal.amount)
    if proposal.template == "boost-urllc-hospital":
        cells = comp.zones[ZONES.index("hospital")]
        p[steps, cells] = _move(p[steps, cells], URLLC, (EMBB, FWA), x)
    elif proposal.template == "preprovision-fwa":
        cells = comp.zones[ZONES.index("fwa")]
        p[steps, cells, FWA] = np.minimum(p[steps, cells, FWA] + x, 1.0)
    else:  # shift-corridor-links
        corridor = comp.zones[ZONES.index("corridor")]
        links = comp.cell_link[corridor].sum(axis=0) > 0
        b[steps, links] = _move(b[steps, links], EMBB, (FWA,), x)
    return _project(p), _project(b)


def _move(shares: F32, to: int, donors: tuple[int, ...], amount: np.float32) -> F32:
    """Add ``amount`` to slice ``to``, taken from ``donors`` in proportion to their shares."""
    out = shares.copy()
    pool = out[..., list(donors)].sum(axis=-1)
    take = np.minimum(amount, pool)
    for d in donors:
        out[..., d] -= np.where(pool > 0, take * out[..., d] / np.maximum(pool, 1e-12), 0.0)
    out[..., to] += take
    return np.clip(out, 0.0, 1.0)


def _project(shares: F32) -> F32:
    total = shares.sum(axis=-1, keepdims=True)
    return np.where(total > 1.0, shares / np.maximum(total, 1e-12), shares).astype(np.float32)


Predictor = Callable[[F32, F32], tuple[float, float]]
"""``(p, b) -> (predicted utility mean, its standard deviation)`` for a plan."""


@dataclass(frozen=True)
class Verdict:
    accept: bool
    kind: str  # "do-no-harm" or "guardrail"
    explanation: str
    numbers: dict[str, float] = field(default_factory=dict)


def do_no_harm(
    current: tuple[F32, F32], proposed: tuple[F32, F32], predictor: Predictor, margin: float = 0.0, k: float = 1.0
) -> Verdict:
    """Accept ``proposed`` only if its predicted utility beats the current plan's by ``margin`` and
    stays at least the current plan's when taken ``k`` standard deviations lower.

    The rule, on the predictor's utilities ``U`` and standard deviations ``sd`` (the benchmark's
    utility units; the planner's predictor is the CDWM's mean utility and the members' spread):
    accept iff ``U_new - U_cur >= margin`` and ``U_new - k sd_new >= U_cur``. A prediction that is
    not a finite utility with a finite, non-negative spread is refused. With ``margin >= 0`` an
    accepted proposal never has a lower predicted utility (property-tested).
    """
    for name, value in (("margin", margin), ("k", k)):
        if not (math.isfinite(value) and value >= 0.0):
            raise ValueError(f"{name}: must be finite and >= 0, got {value}")
    cur_mean, cur_sd = (float(v) for v in predictor(*current))
    new_mean, new_sd = (float(v) for v in predictor(*proposed))
    gain = new_mean - cur_mean
    pessimistic = new_mean - k * new_sd
    numbers = {"current": cur_mean, "current_sd": cur_sd, "proposed": new_mean, "proposed_sd": new_sd, "gain": gain}
    valid = all(math.isfinite(v) for v in numbers.values()) and cur_sd >= 0.0 and new_sd >= 0.0
    accept = bool(valid and gain >= margin and pessimistic >= cur_mean)
    if not valid:
        text = "refused: the prediction is not a finite utility with a finite, non-negative spread"
    elif accept:
        text = f"applied: predicted utility {new_mean:.3f} (sd {new_sd:.3f}) vs {cur_mean:.3f} now, gain {gain:+.3f}"
    elif gain < margin:
        text = f"refused: predicted utility {new_mean:.3f} is not {margin:.3f} above the current plan's {cur_mean:.3f}"
    else:
        text = (
            f"refused: gain {gain:+.3f} is within the uncertainty (proposed {new_mean:.3f} - {k:g} sd = "
            f"{pessimistic:.3f} < current {cur_mean:.3f})"
        )
    return Verdict(accept, "do-no-harm", text, numbers)


def guardrail(p_violation: float, threshold: float = 0.5) -> Verdict:
    """Reject an action whose predicted probability of violating the SLA exceeds ``threshold``."""
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    accept = bool(p_violation <= threshold)
    verb = "passed" if accept else "rejected"
    text = f"{verb}: predicted SLA-violation probability {p_violation:.2f} vs threshold {threshold:.2f}"
    return Verdict(accept, "guardrail", text, {"p_violation": float(p_violation), "threshold": threshold})


@dataclass
class AuditTrace:
    """A JSON-lines audit trace: one decision per line, appended atomically."""

    path: Path
    backend: str = "embedded"
    _count: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, decision: str, inputs: dict[str, Any], verdict: Verdict | None = None, **extra: Any) -> None:
        entry = {
            "seq": self._count,
            "time": time.time(),
            "backend": self.backend,
            "decision": decision,
            "inputs": inputs,
            **({"verdict": asdict(verdict)} if verdict is not None else {}),
            **extra,
        }
        line = (json.dumps(entry, sort_keys=True, default=_jsonable) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        self._count += 1

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")
