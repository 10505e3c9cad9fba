"""A trained CDWM behind ``observe`` / ``imagine`` / ``rank``, with calibrated intervals and probabilities."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from twm_agents import checkpoint_io
from twm_agents.cdwm.data import KPI_NAMES
from twm_agents.cdwm.encoding import CityEncoding
from twm_agents.cdwm.fieldinfo import plan_summaries
from twm_agents.cdwm.model import CDWMEnsemble, RSSMShape
from twm_agents.cdwm.utility import episode_from_steps
from twm_agents.conformal import FeatureIntervals as KPIIntervals
from twm_agents.conformal import ViolationCalibrator
from twm_agents.fwm.predictor import FieldModel, resolve_device
from twm_gym.core.kpi import KPIs, Utility, step_cost
from twm_gym.core.params import Scenario
from twm_gym.core.state import EGWState
from twm_gym.envs.layout import OBSERVATION_KEYS

F32 = NDArray[np.float32]

FORMAT = "twm-gym/cdwm/1"
DEFAULT_CHECKPOINT = "default"
SHIPPED_CHECKPOINTS: dict[str, str] = {
    "default": "the RSSM ensemble on the CSW/EGW observations (twm-bench train cdwm)",
    "fields": "the same conditioned on FWM field summaries, paper section X-B "
    "(twm-bench train cdwm --set fwm_features=true fwm_view=decision)",
    "wave": "the default recipe on the commuter-wave scenario alone "
    "(twm-bench train cdwm --set scenarios=wave-id ood_scenarios=wave-ood threads=2)",
    "sets": "the city-free encoding on the train split's generated cities, for any city "
    "(twm-bench train cdwm --config sets)",
    "sets-csw": "the same reading the controllable world's observations alone, the paper's CDWM-only "
    "(twm-bench train cdwm --config sets-csw)",
    "sets-fields": "the controllable world's observations and the any-city FWM's field summaries, the "
    "paper's coupling for any city (twm-bench train cdwm --config sets-fields)",
}
"""The checkpoints shipped in ``agents/twm_agents/cdwm/checkpoints``, by name."""


@dataclass(frozen=True, eq=False)
class LatentState:
    """Each member's filtered state for ``N`` histories x ``samples`` draws: ``h (M, N*S, d)``, ``z (M, N*S, s)``."""

    h: torch.Tensor
    z: torch.Tensor
    samples: int


@dataclass(frozen=True, eq=False)
class Imagined:
    """KPI trajectories of ``N`` candidates: every (member, sample) draw, their mean and intervals."""

    draws: F32  # (M, N, S, H, K) natural units
    mean: F32  # (N, H, K)
    lo: F32  # (N, H, K) calibrated interval
    hi: F32  # (N, H, K)


@dataclass(frozen=True, eq=False)
class Ranking:
    """Predicted episode utility of ``N`` candidates (higher is better) with its uncertainty."""

    utility: F32  # (N,) mean over members and samples
    utility_sd: F32  # (N,) spread over members and samples
    disagreement: F32  # (N,) spread of the members' means (epistemic)
    p_violation: F32  # (N,) calibrated probability that the episode violates an SLA
    p_violation_raw: F32  # (N,) fraction of imagined episodes that violate
    imagined: Imagined


class CDWMModel:
    """A trained Control/Dynamics World Model (load one with :meth:`load` or :meth:`default`)."""

    def __init__(
        self,
        ensemble: CDWMEnsemble,
        intervals: KPIIntervals | None,
        violation: ViolationCalibrator | None,
        meta: dict[str, Any],
        device: str = "auto",
    ) -> None:
        self.device = resolve_device(device)
        self.ensemble = ensemble.to(self.device).eval()
        self.intervals, self.violation, self.meta = intervals, violation, meta

    @property
    def shape(self) -> RSSMShape:
        return self.ensemble.shape

    def _tensor(self, x: NDArray[Any]) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.device)

    @torch.inference_mode()
    def observe(self, obs: F32, act: F32, samples: int = 8) -> LatentState:
        """Filter histories ``obs (N, t+1, D)`` (flat ``TWM/Slicing-v0`` observations) and ``act (N, t, A)``.

        For a model trained with FWM features (``shape.fwm_dim > 0``) each action row is followed by
        its FWM summary (``agents/twm_agents/cdwm/fieldinfo.py``), here and in :meth:`imagine`.
        """
        if obs.ndim != 3 or obs.shape[-1] != self.shape.obs_dim:
            raise ValueError(f"obs must be (N, t+1, {self.shape.obs_dim}), got {obs.shape}")
        width = self.shape.input_dim
        if act.shape[:2] != (obs.shape[0], obs.shape[1] - 1) or (act.shape[1] and act.shape[2] != width):
            raise ValueError(f"act must be (N, {obs.shape[1] - 1}, {width}) (action + FWM summary), got {act.shape}")
        if samples < 1:
            raise ValueError(f"samples must be >= 1, got {samples}")
        act = act.reshape(obs.shape[0], obs.shape[1] - 1, width)
        h, z = self.ensemble.observe(self._tensor(obs), self._tensor(act), samples)
        return LatentState(h=h, z=z, samples=samples)

    @torch.inference_mode()
    def imagine(
        self,
        state: LatentState,
        actions: F32,
        confidence: float = 0.9,
        common_noise: bool = True,
        intervals: bool = True,
    ) -> Imagined:
        """KPI trajectories under ``actions (N, H, A)`` from ``state`` (one history, or ``N``).

        With one history and ``common_noise``, every candidate is imagined with the same latent
        draws (common random numbers): their differences come from the actions alone, which makes
        rankings far less noisy than independent draws at the same cost. With ``intervals=False``
        the calibrated intervals are skipped (``lo``/``hi`` are -inf/+inf): what a ranking that
        reads only the draws needs.
        """
        s = state.samples
        n_hist = state.h.shape[1] // s
        n = actions.shape[0]
        if actions.ndim != 3 or actions.shape[2] != self.shape.input_dim:
            raise ValueError(
                f"actions must be (N, H, {self.shape.input_dim}) (action + FWM summary), got {actions.shape}"
            )
        h, z = state.h, state.z
        if n_hist == 1 and n > 1:  # one history, N candidates
            h, z = h.repeat(1, n, 1), z.repeat(1, n, 1)
        elif n_hist != n:
            raise ValueError(f"{n_hist} histories for {n} action sequences: give one history or one per sequence")
        acts = self._tensor(np.repeat(actions, s, axis=0))
        noise = None
        if common_noise and n_hist == 1:  # rows are (candidate, sample): tile one draw per sample
            m, stoch = h.shape[0], self.shape.stoch
            noise = torch.randn(m, s, actions.shape[1], stoch, device=self.device).repeat(1, n, 1, 1)
        draws = self.ensemble.imagine(h, z, acts, noise=noise).cpu().numpy()  # (M, N*S, H, K)
        m = draws.shape[0]
        draws = draws.reshape(m, n, s, *draws.shape[2:])
        flat = draws.transpose(1, 3, 4, 0, 2).reshape(n, draws.shape[3], draws.shape[4], m * s)
        mean, sd = flat.mean(axis=-1), flat.std(axis=-1)
        if self.intervals is None or not intervals:
            lo, hi = np.full_like(mean, -np.inf), np.full_like(mean, np.inf)
        else:
            lo, hi = self.intervals.interval(mean, sd, confidence)
        return Imagined(draws=draws, mean=mean, lo=lo, hi=hi)

    def standardize(self, kpi: NDArray[np.floating]) -> F32:
        """KPIs ``(..., K)`` in the model's standardized units: the training normalization, symlog for
        Mbit and ms (the trajectory axis compares KPIs of different scales in these units)."""
        with torch.no_grad():
            x = torch.from_numpy(np.asarray(kpi, np.float32)).to(self.device)
            return self.ensemble.norm_kpi(x).cpu().numpy()  # type: ignore[no-any-return]

    def rank(
        self,
        scenario: Scenario,
        history_obs: F32,
        history_act: F32,
        history_kpi: F32,
        p: F32,
        b: F32,
        *,
        samples: int = 8,
        utility: Callable[[KPIs], F32] | None = None,
        fwm: FieldModel | None = None,
        egw_state: EGWState | None = None,
        history_fwm: F32 | None = None,
        future_fwm: F32 | None = None,
        intervals: bool = True,
    ) -> Ranking:
        """Score ``N`` candidates' remaining steps from one episode's history.

        ``history_obs (t+1, D)``, ``history_act (t, A)`` (flat, whatever the model's encoding: a
        ``"sets"`` model summarizes them itself), ``history_kpi (t, K)`` are the steps so
        far; ``p (N, H, C, S)`` and ``b (N, H, L, S)`` the candidates' shares for the remaining
        ``H = horizon - t`` steps. Each imagined future is joined to the observed past and scored
        with the episode formulas; the control cost is computed exactly from the shares.

        A model trained with FWM features also needs ``fwm`` (the field model), ``egw_state`` (the
        exogenous state at the decision step, one rollout) and ``history_fwm (t, F)`` (the past
        steps' summaries); each candidate's future steps are summarized on the decision step's field
        (``future_fwm (N, H, F)`` passes those summaries when the caller has them).
        ``utility`` scores KPIs (``Utility()`` by default; an intent's
        :class:`~twm_gym.intents.IntentUtility` too). ``intervals=False`` leaves the KPI intervals
        of ``Ranking.imagined`` uncomputed (the scores do not use them; a planner ranking every
        step saves their time).
        """
        t = history_act.shape[0]
        n, horizon = p.shape[0], p.shape[1]
        layout = _layout(scenario)
        if self.shape.encoding == "sets":  # the city-free summaries (agents/twm_agents/cdwm/encoding.py)
            enc = CityEncoding.of(scenario)
            actions = enc.actions(p, b, t)
            past, model_obs = enc.history(history_act[None])[0], enc.obs(history_obs)
        else:
            actions = np.stack([layout.pack(p[:, k], b[:, k]) for k in range(horizon)], axis=1)
            past, model_obs = history_act, history_obs
        if self.shape.observations == "csw":  # the controllable world's keys come first
            model_obs = model_obs[..., : self.shape.obs_dim]
        if self.shape.fwm_dim:
            if future_fwm is None and fwm is not None and egw_state is not None:
                future_fwm = plan_summaries(fwm, scenario, egw_state, t, p, b)
            if history_fwm is None or future_fwm is None:
                raise ValueError("this CDWM was trained with FWM features: pass fwm, egw_state and history_fwm")
            future = future_fwm
            if future.shape != (n, horizon, self.shape.fwm_dim):
                raise ValueError(f"future_fwm must be ({n}, {horizon}, {self.shape.fwm_dim}), got {future.shape}")
            actions = np.concatenate([actions, future], axis=-1)
            past = np.concatenate([past, history_fwm], axis=-1)
        state = self.observe(model_obs[None], past[None], samples)
        imagined = self.imagine(state, actions, intervals=intervals)
        draws = imagined.draws  # (M, N, S, H, K)
        m, s = draws.shape[0], draws.shape[2]
        last_p, last_b = layout.project(history_act[-1][None]) if t else (None, None)
        future_cost = _costs(scenario, p, b, last_p, last_b)  # (N, H)
        observed = np.broadcast_to(history_kpi[None, None, None], (m, n, s, t, history_kpi.shape[-1]))
        full = np.concatenate([observed, draws], axis=3)
        cost = np.concatenate([np.broadcast_to(history_kpi[:, KPI_NAMES.index("cost")], (n, t)), future_cost], axis=1)
        kpis = episode_from_steps(scenario, full, cost=np.broadcast_to(cost[None, :, None], (m, n, s, t + horizon)))
        u = (utility or Utility())(kpis).reshape(m, n, s)
        raw = kpis.global_violation.reshape(m, n, s).mean(axis=(0, 2)).astype(np.float32)
        calibrated = raw if self.violation is None else self.violation.predict(raw)
        return Ranking(
            utility=u.mean(axis=(0, 2)),
            utility_sd=u.reshape(m, n, s).transpose(1, 0, 2).reshape(n, -1).std(axis=1),
            disagreement=u.mean(axis=2).std(axis=0),
            p_violation=calibrated,
            p_violation_raw=raw,
            imagined=imagined,
        )

    def save(self, path: str | Path) -> tuple[Path, Path]:
        if self.intervals is None or self.violation is None:
            raise ValueError("calibrate the model before saving it")
        meta = {**self.meta, "shape": dataclasses.asdict(self.shape)}
        arrays = {**self.intervals.arrays(), **self.violation.arrays()}
        return checkpoint_io.save(path, FORMAT, _layout_names(), self.ensemble.state_dict(), arrays, meta)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> CDWMModel:
        """Load a checkpoint (no pickle); raises :class:`~twm_agents.checkpoint_io.CheckpointError`."""
        with checkpoint_io.reading(path):
            state, arrays, meta = checkpoint_io.load(path, FORMAT, _layout_names())
            try:
                shape = RSSMShape(**meta["shape"])
            except (KeyError, TypeError) as exc:
                raise checkpoint_io.CheckpointError(f"{path}: metadata has no valid model shape ({exc})") from exc
            ensemble = CDWMEnsemble(shape)
            try:
                ensemble.load_state_dict(state, strict=True)
            except RuntimeError as exc:
                raise checkpoint_io.CheckpointError(
                    f"{path}: weights do not fit the model shape {shape}: {exc}"
                ) from exc
            return cls(
                ensemble, KPIIntervals.from_arrays(arrays), ViolationCalibrator.from_arrays(arrays), meta, device
            )

    @classmethod
    def default(cls, device: str = "auto", name: str = DEFAULT_CHECKPOINT) -> CDWMModel:
        """A small checkpoint shipped with the package, by ``name`` (:data:`SHIPPED_CHECKPOINTS`)."""
        if name not in SHIPPED_CHECKPOINTS:
            raise ValueError(f"name: no shipped CDWM checkpoint {name!r}; choose one of {sorted(SHIPPED_CHECKPOINTS)}")
        root = resources.files("twm_agents.cdwm") / "checkpoints"
        with resources.as_file(root / f"{name}.safetensors") as weights:
            return cls.load(weights, device=device)

    @classmethod
    def named(cls, ref: str, device: str = "auto") -> CDWMModel:
        """A shipped checkpoint by name ('' for ``default``), else a checkpoint path."""
        if not ref or ref in SHIPPED_CHECKPOINTS:
            return cls.default(device=device, name=ref or DEFAULT_CHECKPOINT)
        return cls.load(ref, device=device)


def _layout_names() -> dict[str, list[str]]:
    return {"observation_keys": list(OBSERVATION_KEYS), "kpis": list(KPI_NAMES)}


def _layout(scenario: Scenario) -> Any:
    from twm_gym.envs.layout import layout_for

    return layout_for(scenario)


def _costs(scenario: Scenario, p: F32, b: F32, last_p: F32 | None, last_b: F32 | None) -> F32:
    """``(N, H)`` exact control cost of each candidate's steps (the previous shares: the last action, or uniform)."""
    n, horizon, c, _ = p.shape
    lp = np.full((n, c, 3), 1 / 3, np.float32) if last_p is None else np.broadcast_to(last_p, (n, c, 3))
    lb = (
        np.full((n, b.shape[2], 3), 1 / 3, np.float32)
        if last_b is None
        else np.broadcast_to(last_b, (n, b.shape[2], 3))
    )
    out = []
    for k in range(horizon):
        out.append(step_cost(scenario.cost, p[:, k], b[:, k], lp, lb))
        lp, lb = p[:, k], b[:, k]
    return np.stack(out, axis=1)
