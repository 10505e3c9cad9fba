"""Pluggable agents: the protocol (``agents.base``), the registry and the baselines."""

from agents.base import Agent, EpisodeContext, ScenarioCard
from agents.registry import available, make_agent, resolve

__all__ = ["Agent", "EpisodeContext", "ScenarioCard", "available", "make_agent", "resolve"]
