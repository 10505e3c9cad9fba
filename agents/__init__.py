"""Pluggable agents (planners, world-model agents, baselines). Populated by the agents issues."""
