"""Field-accuracy metrics (the benchmark's field axis): R², SINR-map RMSE and SSIM, interval coverage.

* R² per feature (scikit-learn's ``r2_score``) over every (sample, cell) of the set (of every city,
  pooled, for a set of several cities); *overall* is the unweighted mean of the 12 (each feature
  counts the same, whatever its scale);
* SINR map: RMSE in dB over every pixel, and the mean SSIM of the maps (scikit-image, data range
  the map's clip range of 60 dB);
* intervals: PICP (fraction of targets inside) per feature and overall, and the mean width, per
  feature in its units and overall relative to the feature's spread.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from skimage.metrics import structural_similarity
from sklearn.metrics import r2_score

from twm_agents.fwm.data import FieldDataset
from twm_agents.fwm.fields import FEATURES, SINR_MAP_RANGE_DB, field_geometry
from twm_agents.fwm.predictor import FieldModel, FieldPrediction
from twm_gym.scenarios import load_scenario

F32 = NDArray[np.float32]


def field_metrics(
    y: F32 | Sequence[F32], pred: FieldPrediction | Sequence[FieldPrediction], sinr: F32 | Sequence[F32] | None = None
) -> dict[str, float]:
    """Metrics of ``pred`` against features ``y (N, C, F)`` and, when given, SINR maps ``(N, G, G)``;
    or of lists of them (one entry per city), pooled over every (sample, cell) and pixel."""
    ys = [y] if isinstance(y, np.ndarray) else list(y)
    preds = [pred] if isinstance(pred, FieldPrediction) else list(pred)
    maps = None if sinr is None else ([sinr] if isinstance(sinr, np.ndarray) else list(sinr))
    n_features = ys[0].shape[-1]

    def flat(arrays: list[F32]) -> NDArray[np.float64]:
        return np.concatenate([a.reshape(-1, n_features) for a in arrays]).astype(np.float64)

    flat_y, flat_m = flat(ys), flat([p.mean for p in preds])
    flat_lo, flat_hi = flat([p.lo for p in preds]), flat([p.hi for p in preds])
    out: dict[str, float] = {}
    r2 = [float(r2_score(flat_y[:, f], flat_m[:, f])) for f in range(n_features)]
    inside = (flat_y >= flat_lo) & (flat_y <= flat_hi)
    width = flat_hi - flat_lo
    spread = np.maximum(flat_y.std(axis=0), 1e-12)
    for f, name in enumerate(FEATURES):
        out[f"r2_{name}"] = r2[f]
        out[f"picp_{name}"] = float(inside[:, f].mean())
        out[f"width_{name}"] = float(width[:, f].mean())
    out["r2"] = float(np.mean(r2))
    out["picp"] = float(inside.mean())
    out["width_rel"] = float((width / spread).mean())
    if maps is not None and all(p.sinr_map is not None for p in preds):
        err = np.concatenate([(p.sinr_map.astype(np.float64) - m).ravel() for p, m in zip(preds, maps, strict=True)])  # type: ignore[union-attr]
        out["sinr_rmse_db"] = float(np.sqrt(np.mean(err**2)))
        data_range = SINR_MAP_RANGE_DB[1] - SINR_MAP_RANGE_DB[0]
        ssim = [
            structural_similarity(t, q, data_range=data_range)  # type: ignore[no-untyped-call]
            for p, m in zip(preds, maps, strict=True)
            for t, q in zip(m.astype(np.float64), p.sinr_map.astype(np.float64), strict=True)  # type: ignore[union-attr]
        ]
        out["sinr_ssim"] = float(np.mean(ssim))
    out["n"] = float(sum(a.shape[0] for a in ys))
    return out


def evaluate(
    model: FieldModel, data: FieldDataset | Sequence[FieldDataset], confidence: float = 0.9
) -> dict[str, float]:
    """:func:`field_metrics` of ``model`` on ``data`` at ``confidence``: one dataset, or one per city
    (pooled). An any-city model reads each dataset's city from its scenario name."""
    parts = [data] if isinstance(data, FieldDataset) else list(data)
    preds = []
    for part in parts:
        city = field_geometry(load_scenario(part.scenario)) if model.shape.any_city else None
        preds.append(model.predict(part.x, city=city, with_field=True, confidence=confidence))
    return field_metrics([p.y for p in parts], preds, [p.sinr for p in parts])
