"""Calibrated intervals for the world models' outputs: split-conformal regression with crepes.

Used by the FWM (field features) and the CDWM (per-step KPIs). The ensemble's spread is the
difficulty estimate of a *normalized* conformal regressor, and every output (the last axis) is its
own Mondrian category, so each feature's intervals are calibrated on its own residuals:
``mean +- q_f (sd + beta_f)`` with ``q_f`` the conformal quantile (crepes) of the calibration
set's ``|y - mean| / (sd + beta_f)``, ``beta_f`` a small floor (1 % of the feature's
spread) that keeps near-certain predictions from getting zero-width intervals.

Only arrays are kept (residuals, difficulties, bins, floors): :meth:`FeatureIntervals.arrays` goes
into the safetensors checkpoint and :meth:`FeatureIntervals.from_arrays` refits crepes on load, so
nothing is pickled.
"""

from __future__ import annotations

import numpy as np
from crepes import ConformalRegressor
from numpy.typing import NDArray
from sklearn.isotonic import IsotonicRegression

F32 = NDArray[np.float32]

BETA_FRACTION = 0.01


class FeatureIntervals:
    """Per-feature normalized split-conformal intervals (crepes :class:`ConformalRegressor`)."""

    def __init__(self, residuals: F32, sigmas: F32, bins: NDArray[np.int64], beta: F32) -> None:
        if not (residuals.shape == sigmas.shape == bins.shape) or residuals.ndim != 1:
            raise ValueError("residuals, sigmas and bins must be 1-D arrays of one length")
        self.residuals, self.sigmas, self.bins, self.beta = residuals, sigmas, bins, beta
        self._cr = ConformalRegressor().fit(residuals, sigmas=sigmas, bins=bins)

    @classmethod
    def fit(cls, y: F32, mean: F32, sd: F32) -> FeatureIntervals:
        """Calibrate on ``y``, ensemble ``mean`` and ``sd``, all ``(N, C, F)``: feature ``f`` is bin ``f``."""
        n_features = y.shape[-1]
        beta = (BETA_FRACTION * y.reshape(-1, n_features).std(axis=0) + 1e-6).astype(np.float32)
        bins = np.broadcast_to(np.arange(n_features), y.shape).ravel()
        return cls(
            residuals=(y - mean).ravel().astype(np.float32),
            sigmas=(sd + beta).ravel().astype(np.float32),
            bins=bins.astype(np.int64),
            beta=beta,
        )

    def interval(self, mean: F32, sd: F32, confidence: float = 0.9) -> tuple[F32, F32]:
        """``(lo, hi)`` of shape ``mean.shape`` (``(..., F)``) at ``confidence``."""
        if not 0.0 < confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {confidence}")
        n_features = mean.shape[-1]
        bins = np.broadcast_to(np.arange(n_features), mean.shape).ravel()
        out = self._cr.predict_int(mean.ravel(), sigmas=(sd + self.beta).ravel(), bins=bins, confidence=confidence)
        lo = out[:, 0].reshape(mean.shape).astype(np.float32)
        hi = out[:, 1].reshape(mean.shape).astype(np.float32)
        return lo, hi

    def arrays(self) -> dict[str, NDArray[np.generic]]:
        return {
            "cal_residuals": self.residuals,
            "cal_sigmas": self.sigmas,
            "cal_bins": self.bins,
            "cal_beta": self.beta,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, NDArray[np.generic]]) -> FeatureIntervals:
        return cls(
            residuals=np.asarray(arrays["cal_residuals"], dtype=np.float32),
            sigmas=np.asarray(arrays["cal_sigmas"], dtype=np.float32),
            bins=np.asarray(arrays["cal_bins"], dtype=np.int64),
            beta=np.asarray(arrays["cal_beta"], dtype=np.float32),
        )


class ViolationCalibrator:
    """Calibrated violation probabilities: isotonic regression (scikit-learn) of outcomes on raw probabilities.

    Kept as the calibration pairs (``cal_viol_raw``, ``cal_viol_outcome``) and refitted on load.
    """

    def __init__(self, raw: F32, outcome: F32) -> None:
        if raw.shape != outcome.shape or raw.ndim != 1:
            raise ValueError("raw probabilities and outcomes must be 1-D arrays of one length")
        self.raw, self.outcome = raw.astype(np.float32), outcome.astype(np.float32)
        self._iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(self.raw, self.outcome)

    def predict(self, raw: F32) -> F32:
        return np.asarray(self._iso.predict(np.ravel(raw)), dtype=np.float32).reshape(np.shape(raw))

    def arrays(self) -> dict[str, NDArray[np.generic]]:
        return {"cal_viol_raw": self.raw, "cal_viol_outcome": self.outcome}

    @classmethod
    def from_arrays(cls, arrays: dict[str, NDArray[np.generic]]) -> ViolationCalibrator:
        return cls(np.asarray(arrays["cal_viol_raw"]), np.asarray(arrays["cal_viol_outcome"]))
