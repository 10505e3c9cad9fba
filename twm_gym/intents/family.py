"""The shipped operator intents and intent-conditioned episode names.

``data/intents.json`` holds intent *kinds* (protect a slice in an area, cap a slice's share, a
latency or loss ceiling, cost or compliance priority, a time window), each with its ground-truth
spec and paraphrases split into ``train`` (for authoring and tuning compilers) and ``test`` (the
scored episodes of the ``intents`` preset; never used to choose anything). A paraphrase is an
:class:`OperatorIntent` with id ``KIND.SPLITk`` (``protect-hospital.test0``).

An **intent episode** is a scenario played under an intent, named ``SCENARIO@INTENT_ID``
(``hotspot-id@protect-hospital.test0``): the agent gets the intent's text (never its spec) on its
scenario card and the episode is scored by :class:`~twm_gym.intents.score.IntentUtility` of the spec.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from twm_gym.core.params import Scenario
from twm_gym.intents.spec import IntentSpec, check
from twm_gym.scenarios import load_scenario
from twm_gym.scenarios.registry import ScenarioError

SPLITS = ("train", "test")
SEPARATOR = "@"
INTENT_SCENARIOS = ("hotspot-id", "wave-ood")
"""The scenarios the shipped intents are written for (the paper's city: its zones, cells and links)."""


@dataclass(frozen=True)
class OperatorIntent:
    """One phrasing of an intent and the spec it means (authored with it: the ground truth).

    ``waived`` names slices whose SLA the operator explicitly waives for the episode: a typed field
    of the episode, never read from the text (``()`` for every shipped intent).
    """

    id: str
    kind: str
    family: str
    split: str
    text: str
    spec: IntentSpec
    waived: tuple[str, ...] = ()


@functools.cache
def _raw() -> dict[str, Any]:
    text = resources.files("twm_gym.intents").joinpath("data/intents.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


@functools.cache
def intents(split: str | None = None) -> tuple[OperatorIntent, ...]:
    """Every shipped intent phrasing, of one split (``train``, ``test``) or of both."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"split: {split!r} is not one of {list(SPLITS)}")
    out = []
    for entry in _raw()["intents"]:
        spec = IntentSpec.model_validate(entry["spec"])
        for part in SPLITS if split is None else (split,):
            for k, text in enumerate(entry[part]):
                out.append(
                    OperatorIntent(f"{entry['kind']}.{part}{k}", entry["kind"], entry["family"], part, text, spec)
                )
    return tuple(out)


def load_intent(intent_id: str) -> OperatorIntent:
    """A shipped intent by id; raises ``ValueError`` naming a few valid ones."""
    found = {i.id: i for i in intents()}
    if intent_id not in found:
        kinds = sorted({i.kind for i in intents()})
        raise ValueError(f"intent: {intent_id!r} is not a shipped intent id (KIND.SPLITk; kinds: {kinds})")
    return found[intent_id]


def episode_name(scenario: str, intent_id: str) -> str:
    """The name of ``scenario`` played under intent ``intent_id``."""
    return f"{scenario}{SEPARATOR}{intent_id}"


def load_target(name: str) -> tuple[Scenario, OperatorIntent | None]:
    """A scenario name (or path), optionally ``@INTENT_ID``: the scenario and the intent it is played under.

    The intent's spec must be valid for the scenario (its cells, zones and links exist)."""
    base, sep, intent_id = str(name).rpartition(SEPARATOR)
    if not sep:
        return load_scenario(name), None
    scenario = load_scenario(base)
    try:
        intent = load_intent(intent_id)
    except ValueError as exc:
        raise ScenarioError(f"{name}: {exc}") from None
    problems = check(intent.spec, scenario)
    if problems:
        raise ScenarioError(f"{name}: intent {intent_id!r} does not fit scenario {base!r}: {problems[0].message}")
    return scenario, intent


def intent_episodes(split: str = "test", scenarios: tuple[str, ...] = INTENT_SCENARIOS) -> tuple[str, ...]:
    """Every (scenario, intent phrasing of ``split``) as an episode name."""
    return tuple(episode_name(s, i.id) for s in scenarios for i in intents(split))
