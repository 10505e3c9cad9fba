"""Registered scenarios: the paper's 10-cell city under four shock regimes, and a tiny test city."""

from twm_gym.scenarios.registry import ScenarioError, list_scenarios, load_scenario, scenario_from_dict

__all__ = ["ScenarioError", "list_scenarios", "load_scenario", "scenario_from_dict"]
