"""Operator intents: the typed spec an intent means, how an intent episode is scored, and the shipped intents.

* :mod:`twm_gym.intents.spec`: :class:`IntentSpec` (objective, SLA ceilings, share restrictions,
  window, context) and :func:`check` against a scenario;
* :mod:`twm_gym.intents.score`: :class:`IntentUtility` and :class:`ShareBounds` (the admissible set);
* :mod:`twm_gym.intents.family`: the shipped intents with train / test paraphrases and episode names
  ``SCENARIO@INTENT_ID``.
"""

from twm_gym.intents.family import (
    OperatorIntent,
    episode_name,
    intent_episodes,
    intents,
    load_intent,
    load_target,
)
from twm_gym.intents.score import BOUND_TOLERANCE, IntentUtility, ShareBounds, share_bounds
from twm_gym.intents.spec import IntentSpec, Issue, check

__all__ = [
    "BOUND_TOLERANCE",
    "IntentSpec",
    "IntentUtility",
    "Issue",
    "OperatorIntent",
    "ShareBounds",
    "check",
    "episode_name",
    "intent_episodes",
    "intents",
    "load_intent",
    "load_target",
    "share_bounds",
]
