"""Classic baselines: uniform, demand-proportional, random candidate, DT-fair and the oracle."""

from twm_agents.baselines.simple import Proportional, RandomCandidate, Uniform
from twm_agents.baselines.twin_search import DTFair, Oracle

__all__ = ["DTFair", "Oracle", "Proportional", "RandomCandidate", "Uniform"]
