"""Classic baselines: uniform, demand-proportional, random candidate, DT-fair and the oracle."""

from agents.baselines.simple import Proportional, RandomCandidate, Uniform
from agents.baselines.twin_search import DTFair, Oracle

__all__ = ["DTFair", "Oracle", "Proportional", "RandomCandidate", "Uniform"]
