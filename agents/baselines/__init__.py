"""Classic baselines: uniform, demand-proportional and random library candidate."""

from agents.baselines.simple import Proportional, RandomCandidate, Uniform

__all__ = ["Proportional", "RandomCandidate", "Uniform"]
