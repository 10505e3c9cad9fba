"""Model output is untrusted: parse, validate, retry within a bound, fall back to the embedded compiler.

A model backend is any callable ``(prompt, schema) -> str`` (the vLLM and OpenAI-compatible
backends build their requests around it). :func:`compile_with_backend` asks it for an
:class:`~twm_gym.intents.spec.IntentSpec` as JSON, and accepts the answer only if it is one JSON
object (fenced or bare), validates against the schema (types, ranges, no unknown fields) and
passes :func:`~twm_gym.intents.spec.check` for the scenario. Otherwise it retries with the error
appended to the prompt, at most ``retries`` times, then falls back to the embedded compiler.
Intents that ask to waive the SLA are refused before any backend is called. Every attempt is
recorded in the returned trace.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from twm_agents.llm.embedded import Compilation, compile_intent, guard_issues
from twm_gym.core.params import Scenario
from twm_gym.intents.spec import IntentSpec, Issue, check, json_schema

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
