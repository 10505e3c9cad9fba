"""The two decisions a model backend makes beyond intents: prescreen verdicts and template choice.

Both go the same way as intents (``agents/twm_agents/llm/parse.py``): the backend gets a prompt with the
numbers it needs and a JSON schema; its answer is untrusted — parsed, validated against the
schema *and* against what exists (candidate names of this chunk, the templates and their amount
range), retried within a bound, and replaced by the embedded rule's decision if it never passes.
Every call returns what was decided, by whom, and each rejected answer with its reason.

* :func:`model_prescreen`: the library in chunks of ``chunk`` candidates, each with its nominal
  loss ratio (worst slice, estimated loss / ceiling) and URLLC hot cell-steps over budget (the
  embedded prescreen's numbers); the model answers which candidates to reject and why.
* :func:`choose_template`: the executing plan's predicted KPIs at a corner case; the model
  answers one template and its amount (``agents/twm_agents/llm/interventions.py``) or none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twm_agents.llm.interventions import MAX_AMOUNT, TEMPLATES, Proposal
from twm_agents.llm.parse import MAX_OUTPUT_CHARS, Backend
from twm_agents.llm.prescreen import Prescreen, prescreen
from twm_gym.core.candidates import CandidateLibrary
from twm_gym.core.params import Scenario


@dataclass
class Decision:
    """What was decided, by which backend, with every rejected model answer."""

    value: Any
    backend: str
    rejected: list[str] = field(default_factory=list)  # one reason per rejected answer
    fell_back: bool = False


def _ask(backend: Backend, prompt: str, schema: dict[str, Any], check: Any, retries: int) -> tuple[Any, list[str]]:
    """``check(parsed JSON)`` of the first acceptable answer (``None`` if none) and the rejections."""
    rejected: list[str] = []
    ask = prompt
    for _ in range(retries + 1):
        try:
            raw = backend(ask, schema)
            if not isinstance(raw, str) or len(raw) > MAX_OUTPUT_CHARS:
                raise ValueError("output is not text of a sane length")
            return check(json.loads(raw.strip().removeprefix("```json").removesuffix("```"))), rejected
        except Exception as exc:  # untrusted output or a failing backend: a reason to retry, never a crash
            rejected.append(f"{type(exc).__name__}: {exc}"[:300])
            ask = f"{prompt}\nYour previous answer was rejected ({rejected[-1]}). Answer again."
    return None, rejected


def model_prescreen(
    scenario: Scenario,
    library: CandidateLibrary,
    backend: Backend,
    name: str = "model",
    chunk: int = 32,
    retries: int = 1,
) -> Decision:
    """A :class:`Prescreen` decided by ``backend`` chunk by chunk (embedded verdicts where it fails)."""
    rules = prescreen(scenario, library)
    keep, reasons = rules.keep.copy(), list(rules.reasons)
    rejected_all: list[str] = []
    fell_back, by_model = False, 0
    for start in range(0, len(library), chunk):
        idx = range(start, min(start + chunk, len(library)))
        names = [library.names[i] for i in idx]
        rows = "\n".join(f"{library.names[i]}: worst load ratio {float(rules.worst[i]):.2f}" for i in idx)
        prompt = (
            "Each line is a slicing policy and its worst nominal load ratio (estimated loss over the "
            "SLA ceiling of its worst slice, or URLLC overloaded cell-steps over the 1 % budget; "
            "above 1 breaks the SLA). List the policies to reject as structurally unsafe, each with "
            f"a short reason.\n{rows}"
        )
        schema = {
            "type": "object",
            "properties": {
                "reject": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"policy": {"type": "string", "enum": names}, "reason": {"type": "string"}},
                        "required": ["policy", "reason"],
                    },
                }
            },
            "required": ["reject"],
        }

        def check(data: Any, names: list[str] = names) -> dict[str, str]:
            if not isinstance(data, dict) or set(data) != {"reject"} or not isinstance(data["reject"], list):
                raise ValueError("expected exactly {'reject': [...]}")
            out = {}
            for item in data["reject"]:
                if not isinstance(item, dict) or item.get("policy") not in names:
                    raise ValueError(f"unknown policy in {str(item)[:80]}")
                out[item["policy"]] = str(item.get("reason", ""))[:200]
            return out

        verdict, rejected = _ask(backend, prompt, schema, check, retries)
        rejected_all += rejected
        if verdict is None:
            fell_back = True  # this chunk keeps the embedded verdicts
            continue
        by_model += 1
        for i in idx:
            n = library.names[i]
            keep[i] = n not in verdict
            reasons[i] = f"{name}: {verdict[n]}" if n in verdict else ""
    screen = Prescreen(keep=keep, worst=rules.worst, reasons=tuple(reasons))
    return Decision(screen, name if by_model else "embedded", rejected_all, fell_back)


def choose_template(
    predicted: dict[str, float], backend: Backend | None, name: str = "model", retries: int = 1
) -> Decision:
    """One corner-case :class:`Proposal` (``None``: leave the plan) from the plan's predicted KPIs.

    ``predicted`` holds e.g. ``loss_urllc``, ``loss_fwa``, ``loss_embb`` (fractions), ``d99_ms``
    and ``p_violation``. Without a backend, or when it never answers validly, the embedded rule
    picks the template of the slice closest to its ceiling.
    """
    rule = _rule_template(predicted)
    if backend is None:
        return Decision(rule, "embedded")
    schema = {
        "type": "object",
        "properties": {
            "template": {"type": "string", "enum": [*TEMPLATES, "none"]},
            "amount": {"type": "number", "minimum": 0, "maximum": MAX_AMOUNT},
        },
        "required": ["template", "amount"],
    }
    prompt = (
        "A network slicing plan is predicted to end with these KPIs: "
        + ", ".join(f"{k} {v:.3g}" for k, v in sorted(predicted.items()))
        + f". Choose one intervention template of {list(TEMPLATES)} and an amount in [0, {MAX_AMOUNT}], "
        "or 'none'."
    )

    def check(data: Any) -> Proposal | None:
        if not isinstance(data, dict) or set(data) != {"template", "amount"}:
            raise ValueError("expected exactly {'template', 'amount'}")
        if data["template"] == "none":
            return None
        amount = data["amount"]
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise ValueError("amount must be a number")
        return Proposal(str(data["template"]), float(amount))  # raises naming the valid choices

    value, rejected = _ask(backend, prompt, schema, check, retries)
    if rejected and len(rejected) == retries + 1:
        return Decision(rule, "embedded", rejected, fell_back=True)
    return Decision(value, name, rejected)


def _rule_template(predicted: dict[str, float]) -> Proposal | None:
    """The embedded choice: the template of the slice that uses most of its SLA ceiling."""
    use = {
        "boost-urllc-hospital": max(predicted.get("loss_urllc", 0.0) / 0.10, predicted.get("d99_ms", 0.0) / 20.0),
        "preprovision-fwa": predicted.get("loss_fwa", 0.0) / 0.20,
        "shift-corridor-links": predicted.get("loss_embb", 0.0) / 0.25,
    }
    template, worst = max(use.items(), key=lambda kv: kv[1])
    if worst < 0.8:
        return None
    return Proposal(template, float(np.clip(0.1 * worst, 0.05, MAX_AMOUNT)))
