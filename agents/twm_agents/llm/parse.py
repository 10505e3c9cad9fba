"""Model output is untrusted: parse, validate, retry within a bound, fall back to the embedded compiler.

A model backend is any callable ``(prompt, schema) -> str`` (the vLLM and OpenAI-compatible
backends build their requests around it). :func:`compile_with_backend` asks it for an
:class:`~twm_gym.intents.spec.IntentSpec` as JSON, and accepts the answer only if it is one JSON
object (fenced or bare), validates against the schema (types, ranges, no unknown fields) and
passes :func:`~twm_gym.intents.spec.check` for the scenario and the meaning check
:func:`grounding_issues` (no number, id, zone or slice the intent does not state). Otherwise it retries with the error
appended to the prompt, at most ``retries`` times, then falls back to the embedded compiler.
Intents that ask to waive the SLA are refused before any backend is called. Every attempt is
recorded in the returned trace.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from twm_agents.llm.embedded import Compilation, canonical, compile_intent, event_of, guard_issues, mentioned_slices
from twm_agents.llm.requirements import IDS, ids_of
from twm_gym.core.params import Scenario
from twm_gym.intents.spec import IntentSpec, Issue, Objective, check, json_schema

Backend = Callable[[str, dict[str, Any]], str]
MAX_OUTPUT_CHARS = 20_000


class ModelOutputError(ValueError):
    """A model's output that is not a valid spec; the message names what is wrong."""


def parse_model_output(text: object) -> IntentSpec:
    """The :class:`IntentSpec` in a model's raw output, or :class:`ModelOutputError`."""
    if not isinstance(text, str):
        raise ModelOutputError(f"model output must be text, got {type(text).__name__}")
    if len(text) > MAX_OUTPUT_CHARS:
        raise ModelOutputError(f"model output is {len(text)} characters, more than {MAX_OUTPUT_CHARS}")
    body = _unfence(text.strip())
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # ValueError: bad JSON, or an integer past Python's digit limit
        raise ModelOutputError(f"model output is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelOutputError(f"model output must be a JSON object, got {type(data).__name__}")
    try:
        return IntentSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "spec"
        raise ModelOutputError(f"{where}: {first['msg']}") from exc
    except (RecursionError, TypeError, ValueError) as exc:
        raise ModelOutputError(f"model output does not fit the schema: {exc}") from exc


def _unfence(body: str) -> str:
    """The inside of one Markdown code fence (```` ```json ... ``` ````), else ``body``; linear time."""
    if len(body) < 6 or not (body.startswith("```") and body.endswith("```")):
        return body
    inner = body[3:-3]
    if inner.startswith("json"):
        inner = inner[4:]
    return inner.strip()


@dataclass
class Attempt:
    backend: str
    output: str
    error: str | None


@dataclass
class Traced(Compilation):
    """A :class:`Compilation` with every backend attempt and whether it fell back."""

    attempts: list[Attempt] = field(default_factory=list)
    fell_back: bool = False


def prompt_for(intent: str) -> str:
    return (
        "Translate the network operator's intent into one JSON object that follows the schema. "
        "Only JSON. Shares are fractions in [0, 1]; latency in ms; loss in %.\n"
        f"Intent: {intent}"
    )


_NUMBER = re.compile(r"(?<![\w.])(\d{1,12}(?:\.\d{1,12})?)")


def grounding_issues(spec: IntentSpec, intent: str) -> list[str]:
    """What a model's ``spec`` holds that ``intent`` never states: a meaning check on model output.

    Every number (a ceiling, a share, a window step) must be one the text states, up to its unit (a
    percentage as a fraction and back, seconds as milliseconds, "the next 6 steps" as step 5); every
    cell or link id one it states or lists ("cells 3-5" lists cell 4); every zone it names and every
    slice it bounds must be named in the text (by the compiler's slice words). A model cannot add a
    1 % cap, a cell or a slice the operator did not write. Nor an event, a time window or a change
    of objective: an event must be the one the text's own words name (the compiler's event
    vocabulary), a window needs steps in the text, and an objective other than the default needs the
    text to speak of cost or of compliance."""
    text = canonical(intent)  # number words as digits: "forty percent" states 40
    stated = {float(x) for x in _NUMBER.findall(text)}
    forms = stated | {x / 100 for x in stated} | {x * 100 for x in stated} | {x * 1000 for x in stated}
    forms |= {x - 1 for x in stated}
    named = set(mentioned_slices(text))
    listed = {x for m in IDS.finditer(text) for x in ids_of(m.group(2))}  # "cells 3-5" lists cell 4
    listed |= {f"{x:g}" for x in stated if x.is_integer()}  # an id is a number the text states, as stated

    def known(x: float | str) -> bool:
        """Whether ``x`` (a number, or an id as text) is a plain number the text states."""
        if isinstance(x, str):
            if not re.fullmatch(r"\d{1,12}(?:\.\d{1,12})?", x.strip()):
                return False  # an id such as "0.1ms" or "cell3": nothing the text states as a number
            x = float(x)
        return any(abs(x - f) <= 1e-6 * max(1.0, abs(f)) for f in forms)

    out = []
    for i, c in enumerate(spec.constraints):
        if not known(c.max):
            out.append(f"constraints[{i}].max {c.max:g}")
        if c.slice not in named and not (c.slice == "urllc" and c.metric == "latency_p99"):
            out.append(f"constraints[{i}].slice {c.slice}")
    for i, r in enumerate(spec.restrictions):
        for bound in ("floor", "cap"):
            value = getattr(r, bound)
            if value is not None and not known(value) and not (value == 0.0 and re.search(r"\bzero\b", text)):
                out.append(f"restrictions[{i}].{bound} {value:g}")
        for x in r.ids:
            if (r.scope in ("cell", "link") and x.strip() not in listed) or (r.scope == "zone" and x not in text):
                out.append(f"restrictions[{i}].ids {x}")
        if r.slice is not None and r.slice not in named:
            out.append(f"restrictions[{i}].slice {r.slice}")
    if spec.window is not None:
        for end in ("start", "end"):
            step = getattr(spec.window, end)
            if step != 0 and not known(float(step)):
                out.append(f"window.{end} {step}")
    for x in spec.context.links_down:
        if x.strip() not in listed:
            out.append(f"context.links_down {x}")
    if spec.context.event != "none" and spec.context.event != event_of(text):
        out.append(f"context.event {spec.context.event}")
    if spec.window is not None and not re.search(r"\bsteps?\b", text):
        out.append("window (the intent names no steps)")
    if spec.objective != Objective() and not re.search(_OBJECTIVE_WORDS, text):
        out.append("objective (the intent says nothing of cost or compliance)")
    return out


_OBJECTIVE_WORDS = r"cost|cheap|spend|money|econom|sav(?:e|ing)|budget|expens|margin|headroom|complian|safe|\bslas?\b"
"""Words that make an objective other than the default a reading of the text."""


def compile_with_backend(
    intent: str, scenario: Scenario, backend: Backend, name: str = "model", retries: int = 2
) -> Traced:
    """Compile with ``backend``, validating its output; retry at most ``retries`` times, then fall back."""
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    refused = guard_issues(intent)
    if refused:
        return Traced(spec=None, issues=refused, backend="guard", rule_based=True, notes=["refused before any backend"])
    schema = json_schema()
    prompt = prompt_for(intent)
    attempts: list[Attempt] = []
    for _ in range(retries + 1):
        try:
            raw = backend(prompt, schema)
        except Exception as exc:  # a backend failure is one more reason to fall back, never a crash
            attempts.append(Attempt(name, "", f"backend error: {type(exc).__name__}: {exc}"))
            continue
        try:
            spec = parse_model_output(raw)
            ungrounded = grounding_issues(spec, intent)
            if ungrounded:
                raise ModelOutputError(f"not stated in the intent: {'; '.join(ungrounded)}")
            issues: list[Issue] = check(spec, scenario)
        except ModelOutputError as exc:
            attempts.append(Attempt(name, str(raw)[:2000], str(exc)))
            prompt = f"{prompt_for(intent)}\nYour previous answer was rejected: {exc}. Answer again."
            continue
        attempts.append(Attempt(name, str(raw)[:2000], None))
        return Traced(
            spec=spec if not issues else None,
            issues=issues,
            backend=name,
            rule_based=False,
            notes=[],
            attempts=attempts,
        )
    fallback = compile_intent(intent, scenario)
    return Traced(
        spec=fallback.spec,
        issues=fallback.issues,
        backend=fallback.backend,
        rule_based=True,
        notes=[*fallback.notes, f"fell back after {len(attempts)} rejected {name} answer(s)"],
        attempts=attempts,
        fell_back=True,
    )
