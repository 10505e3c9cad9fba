"""Pluggable agents: the protocol (``twm_agents.base``), the registry and the baselines."""

from twm_agents.base import Agent, EpisodeContext, ScenarioCard
from twm_agents.registry import available, make_agent, resolve

__all__ = ["Agent", "EpisodeContext", "ScenarioCard", "available", "make_agent", "resolve"]
