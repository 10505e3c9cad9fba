"""Field-accuracy metrics (the benchmark's field axis): R², SINR-map RMSE and SSIM, interval coverage.

* R² per feature (scikit-learn's ``r2_score``) over every (sample, cell) of the set; *overall* is
  the unweighted mean of the 12 (each feature counts the same, whatever its scale);
* SINR map: RMSE in dB over every pixel, and the mean SSIM of the maps (scikit-image, data range
  the map's clip range of 60 dB);
* intervals: PICP (fraction of targets inside) per feature and overall, and the mean width, per
  feature in its units and overall relative to the feature's spread.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from skimage.metrics import structural_similarity
from sklearn.metrics import r2_score

from twm_agents.fwm.data import FieldDataset
from twm_agents.fwm.fields import FEATURES, SINR_MAP_RANGE_DB
from twm_agents.fwm.predictor import FieldModel, FieldPrediction

F32 = NDArray[np.float32]


def field_metrics(y: F32, pred: FieldPrediction, sinr: F32 | None = None) -> dict[str, float]:
    """Metrics of ``pred`` against features ``y (N, C, F)`` and, when given, SINR maps ``(N, G, G)``."""
    out: dict[str, float] = {}
    flat_y = y.reshape(-1, y.shape[-1]).astype(np.float64)
    flat_m = pred.mean.reshape(-1, y.shape[-1]).astype(np.float64)
    r2 = [float(r2_score(flat_y[:, f], flat_m[:, f])) for f in range(y.shape[-1])]
    inside = (y >= pred.lo) & (y <= pred.hi)
    width = pred.hi - pred.lo
    spread = np.maximum(flat_y.std(axis=0), 1e-12)
    for f, name in enumerate(FEATURES):
        out[f"r2_{name}"] = r2[f]
        out[f"picp_{name}"] = float(inside[..., f].mean())
        out[f"width_{name}"] = float(width[..., f].mean())
    out["r2"] = float(np.mean(r2))
    out["picp"] = float(inside.mean())
    out["width_rel"] = float((width.reshape(-1, y.shape[-1]) / spread).mean())
    if sinr is not None and pred.sinr_map is not None:
        err = pred.sinr_map.astype(np.float64) - sinr
        out["sinr_rmse_db"] = float(np.sqrt(np.mean(err**2)))
        data_range = SINR_MAP_RANGE_DB[1] - SINR_MAP_RANGE_DB[0]
        ssim = [
            structural_similarity(t, p, data_range=data_range)  # type: ignore[no-untyped-call]
            for t, p in zip(sinr.astype(np.float64), pred.sinr_map.astype(np.float64), strict=True)
        ]
        out["sinr_ssim"] = float(np.mean(ssim))
    out["n"] = float(y.shape[0])
    return out


def evaluate(model: FieldModel, data: FieldDataset, confidence: float = 0.9) -> dict[str, float]:
    """:func:`field_metrics` of ``model`` on ``data`` at ``confidence``."""
    pred = model.predict(data.x, with_field=True, confidence=confidence)
    return field_metrics(data.y, pred, data.sinr)
