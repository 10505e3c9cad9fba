"""The exogenous world alone, for field models: per-pixel maps and per-cell drivers, no control."""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from twm_gym.core.compiled import compile_scenario
from twm_gym.core.egw import ExoPath, initial_egw, roll
from twm_gym.core.field import sinr
from twm_gym.core.params import Scenario
from twm_gym.core.rng import seed_keys
from twm_gym.envs.layout import OBSERVATION_KEYS, Observer, exo_seed_option, layout_for
from twm_gym.render import RENDER_MODES, HumanWindow, check_render_mode
from twm_gym.scenarios import load_scenario

F32 = NDArray[np.float32]

DENSITY_CLIP = 20.0
"""``egw_density_map`` is user density over the city's base density, clipped to [0, DENSITY_CLIP]."""
SINR_MAP_RANGE_DB = (-20.0, 40.0)


class FieldEnv(gym.Env[dict[str, Any], np.int64]):
    """The exogenous world of a slicing scenario, step by step, with nothing to control.

    ## Description

    The same exogenous process as ``TWM/Slicing-v0`` (demand, hotspots, waves, link failures,
    propagation field; paper eq. 1's ``T_egw``), exposed for field and exogenous-world models:
    each step draws the next slow step of the exogenous world. There is no controllable world
    here: the exogenous world never depends on the action, so this env is exact, not an
    approximation.

    ## Action space

    ``Discrete(1)``: the only action is 0 ("let time pass").

    ## Observation space

    The ``egw_*`` keys of ``TWM/Slicing-v0`` (same bounds and units) plus two per-pixel maps on
    the city's ``G x G`` grid (row-major from the south-west corner, ``G = 16`` by default):

    | key | size | bounds | meaning |
    |---|---|---|---|
    | ``egw_density_map`` | G*G | [0, 20] | user density / the city's base density (clipped) |
    | ``egw_sinr_map`` | G*G | [-20, 40] | SINR of the pixel's serving cell, dB (clipped) |

    ## Rewards

    Always 0.

    ## Starting state, episode end, arguments

    As ``TWM/Slicing-v0``: the exogenous seed comes from ``reset(seed=...)`` via ``np_random`` or
    ``options={"exo_seed": s}``; truncated after the horizon (12 steps); ``scenario`` selects the
    scenario. ``info["exo_seed"]`` names the episode's exogenous seed. ``render_mode``: ``None``,
    ``"rgb_array"`` (the density and SINR maps side by side), ``"ansi"`` (shocks, failed links,
    mean demand and SINR) or ``"human"`` (the maps in a window; without a display, the text).

    ## Version history

    * v0: initial version.
    """

    metadata = {"render_modes": RENDER_MODES, "render_fps": 2}  # noqa: RUF012 - an instance attribute in the base class

    def __init__(self, scenario: str | Scenario = "hotspot-id", render_mode: str | None = None) -> None:
        self.scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
        self.render_mode = check_render_mode(render_mode)
        self._window = HumanWindow(f"TWM/Field {self.scenario.name}")
        self._obs: dict[str, F32] | None = None
        self.comp = compile_scenario(self.scenario)
        self.observer = Observer(layout_for(self.scenario))
        sizes = self.observer.layout.sizes
        n_pixels = self.scenario.city.grid**2
        boxes: dict[str, spaces.Space[Any]] = {
            key: spaces.Box(low, high, shape=(sizes[key],), dtype=np.float32)
            for key, (_, low, high, _) in OBSERVATION_KEYS.items()
            if key.startswith("egw_")
        }
        boxes["egw_density_map"] = spaces.Box(0.0, DENSITY_CLIP, shape=(n_pixels,), dtype=np.float32)
        boxes["egw_sinr_map"] = spaces.Box(*SINR_MAP_RANGE_DB, shape=(n_pixels,), dtype=np.float32)
        self.observation_space = spaces.Dict(boxes)
        self.action_space = spaces.Discrete(1)
        self._base_density = np.float32(self.scenario.city.base_density)
        self._path: ExoPath | None = None
        self.t = 0
        self.exo_seed: int | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        exo = exo_seed_option(options)
        self.exo_seed = int(self.np_random.integers(2**62)) if exo is None else int(exo)
        keys = seed_keys(np.array([self.exo_seed]))
        self._path = roll(self.comp, initial_egw(self.comp, 1), keys, 0, self.scenario.horizon)
        self.t = 0
        return self._observe(), {"t": 0, "exo_seed": self.exo_seed}

    def step(self, action: np.int64) -> tuple[dict[str, Any], SupportsFloat, bool, bool, dict[str, Any]]:
        if self._path is None:
            raise RuntimeError("call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"action must be 0 (Discrete(1)), got {action!r}")
        if self.t >= self.scenario.horizon:
            raise ValueError(f"episode is over: all {self.scenario.horizon} slow steps were taken")
        self.t += 1
        truncated = self.t >= self.scenario.horizon
        return self._observe(), 0.0, False, truncated, {"t": self.t, "exo_seed": self.exo_seed}

    def _observe(self) -> dict[str, F32]:
        if self._path is None:
            raise RuntimeError("call reset() first")
        if self.t == 0:
            egw, drivers = initial_egw(self.comp, 1), None
        else:
            egw, drivers = self._path.state(self.t - 1), self._path.at(self.t - 1)
        obs = {key: value[0] for key, value in self.observer.observe_egw(self.t, egw, drivers).items()}
        drv = drivers if drivers is not None else self.observer.nominal
        density = drv.density[0] / self._base_density
        obs["egw_density_map"] = np.minimum(density, np.float32(DENSITY_CLIP)).astype(np.float32)
        lin = sinr(self.comp.field, drv.activity[:1])[0]
        obs["egw_sinr_map"] = np.clip(np.float32(10.0) * np.log10(lin), *SINR_MAP_RANGE_DB).astype(np.float32)
        self._obs = obs
        return obs

    def render(self) -> Any:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array', 'ansi' or 'human'")
            return None
        if self._obs is None:
            raise RuntimeError("call reset() before render()")
        from twm_gym import render

        obs, sc = self._obs, self.scenario
        title = f"{sc.name}  step {self.t}/{sc.horizon}"

        def frame() -> NDArray[np.uint8]:
            return render.field_rgb_array(title, sc.city.grid, obs)

        def text() -> str:
            return render.field_ansi(sc.name, self.t, sc.horizon, obs)

        if self.render_mode == "ansi":
            return text()
        if self.render_mode == "rgb_array":
            return frame()
        self._window.show(frame, text)
        return None

    def close(self) -> None:
        self._window.close()
