"""A trained FWM: the ensemble, its conformal intervals and its metadata, behind one ``predict``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from twm_agents import checkpoint_io
from twm_agents.conformal import FeatureIntervals
from twm_agents.fwm import checkpoint
from twm_agents.fwm.fields import field_geometry
from twm_agents.fwm.model import FieldEnsemble, ModelShape
from twm_gym.core.params import Scenario

F32 = NDArray[np.float32]

DEFAULT_CHECKPOINT = "default"
"""Name of the checkpoint shipped in ``agents/twm_agents/fwm/checkpoints`` (its recipe: ``docs/fwm.md``)."""


def resolve_device(device: str) -> torch.device:
    """``"auto"`` is CUDA when present, else the CPU; otherwise any ``torch.device`` string."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass(frozen=True, eq=False)
class FieldPrediction:
    """Predicted field features of ``N`` samples; ``lo``/``hi`` bound the calibrated interval."""

    mean: F32  # (N, C, F) ensemble mean, natural units (``fields.FEATURE_UNITS``)
    sd: F32  # (N, C, F) ensemble standard deviation
    lo: F32  # (N, C, F)
    hi: F32  # (N, C, F)
    members: F32  # (M, N, C, F) each member's prediction
    sinr_map: F32 | None  # (N, G, G) dB, when asked for


class FieldModel:
    """A trained Field World Model (load one with :meth:`load` or :meth:`default`).

    ``intervals`` None (before calibration) gives unbounded intervals.
    """

    def __init__(
        self, ensemble: FieldEnsemble, intervals: FeatureIntervals | None, meta: dict[str, Any], device: str = "auto"
    ) -> None:
        self.device = resolve_device(device)
        self.ensemble = ensemble.to(self.device).eval()
        self.intervals = intervals
        self.meta = meta

    @property
    def shape(self) -> ModelShape:
        return self.ensemble.shape

    @torch.inference_mode()
    def predict(
        self, x: F32, *, with_field: bool = True, confidence: float = 0.9, batch_size: int = 2048
    ) -> FieldPrediction:
        """Features (with intervals at ``confidence``) and optionally SINR maps of ``x (N, Cin, G, G)``."""
        if x.ndim != 4 or x.shape[1:] != (self.shape.in_channels, self.shape.grid, self.shape.grid):
            expected = (self.shape.in_channels, self.shape.grid, self.shape.grid)
            raise ValueError(f"x must have shape (N, {', '.join(map(str, expected))}), got {x.shape}")
        ys, maps = [], []
        for i in range(0, x.shape[0], batch_size):
            xb = self._tensor(x[i : i + batch_size])
            y, field = self.ensemble(xb, with_field=with_field)
            ys.append(y.cpu().numpy())
            if field is not None:
                maps.append(field.cpu().numpy())
        return self._prediction(np.concatenate(ys, axis=1), np.concatenate(maps) if maps else None, confidence)

    @torch.inference_mode()
    def predict_shared(self, x_spatial: F32, x_config: F32, *, confidence: float = 0.9) -> FieldPrediction:
        """Features of ``N`` candidates on one field: ``x_spatial (1, Cs, G, G)``, ``x_config (N, Cc, G, G)``.

        Equals :meth:`predict` on the concatenated channels (up to float rounding) at a fraction
        of the cost: the encoder runs once.
        """
        cs, g = self.shape.spatial_channels, self.shape.grid
        if x_spatial.shape != (1, cs, g, g) or x_config.shape[1:] != (self.shape.config_channels, g, g):
            raise ValueError(
                f"x_spatial must be (1, {cs}, {g}, {g}) and x_config (N, {self.shape.config_channels}, {g}, {g}); "
                f"got {x_spatial.shape} and {x_config.shape}"
            )
        y = self.ensemble.features_shared(self._tensor(x_spatial), self._tensor(x_config))
        return self._prediction(y.cpu().numpy(), None, confidence)

    @torch.inference_mode()
    def predict_steps(self, x_spatial: F32, cells: F32) -> F32:
        """Mean features ``(K, N, C, F)`` of ``N`` candidates on each of ``K`` fields (no intervals):
        ``x_spatial (K, Cs, G, G)``, ``cells (K, N, Cc, C)`` (``fields.config_cells``). Equals
        :meth:`predict_shared` per field (up to float rounding), the encoder batched over the fields."""
        cs, cc, g, c = self.shape.spatial_channels, self.shape.config_channels, self.shape.grid, self.shape.n_cells
        k = x_spatial.shape[0]
        if x_spatial.shape != (k, cs, g, g) or cells.ndim != 4 or cells.shape[0] != k or cells.shape[2:] != (cc, c):
            raise ValueError(
                f"x_spatial must be (K, {cs}, {g}, {g}) and cells (K, N, {cc}, {c}); "
                f"got {x_spatial.shape} and {cells.shape}"
            )
        y = self.ensemble.features_steps(self._tensor(x_spatial), self._tensor(cells))
        return y.mean(dim=0).cpu().numpy()  # type: ignore[no-any-return]

    def _tensor(self, x: F32) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.device)

    def _prediction(self, members: F32, sinr_map: F32 | None, confidence: float) -> FieldPrediction:
        mean, sd = members.mean(axis=0), members.std(axis=0)
        if self.intervals is None:  # not calibrated yet: unbounded
            lo, hi = np.full_like(mean, -np.inf), np.full_like(mean, np.inf)
        else:
            lo, hi = self.intervals.interval(mean, sd, confidence)
        return FieldPrediction(mean=mean, sd=sd, lo=lo, hi=hi, members=members, sinr_map=sinr_map)

    def save(self, path: str | Path) -> tuple[Path, Path]:
        if self.intervals is None:
            raise ValueError("calibrate the model (FeatureIntervals.fit) before saving it")
        meta = {**self.meta, "shape": dataclasses.asdict(self.shape)}
        return checkpoint.save(path, self.ensemble.state_dict(), self.intervals.arrays(), meta)

    @classmethod
    def load(cls, path: str | Path, scenario: Scenario | None = None, device: str = "auto") -> FieldModel:
        """Load a checkpoint (no pickle); with ``scenario``, check it was trained on that city."""
        with checkpoint_io.reading(path):
            state, calibration, meta = checkpoint.load(path)
            try:
                shape = ModelShape(**meta["shape"])
            except (KeyError, TypeError) as exc:
                raise checkpoint.CheckpointError(f"{path}: metadata has no valid model shape ({exc})") from exc
            ensemble = FieldEnsemble(shape)
            try:
                ensemble.load_state_dict(state, strict=True)
            except RuntimeError as exc:
                raise checkpoint.CheckpointError(f"{path}: weights do not fit the model shape {shape}: {exc}") from exc
            if scenario is not None:
                digest = checkpoint.geometry_digest(field_geometry(scenario))
                if meta.get("geometry") != digest:
                    raise checkpoint.CheckpointError(
                        f"{path}: trained on another city (geometry digest {str(meta.get('geometry'))[:12]}...) "
                        f"than scenario {scenario.name!r} ({digest[:12]}...)"
                    )
            return cls(ensemble, FeatureIntervals.from_arrays(calibration), meta, device=device)

    @classmethod
    def default(cls, scenario: Scenario | None = None, device: str = "auto") -> FieldModel:
        """The small checkpoint shipped with the package (made by ``twm-bench train fwm``)."""
        root = resources.files("twm_agents.fwm") / "checkpoints"
        with resources.as_file(root / f"{DEFAULT_CHECKPOINT}.safetensors") as weights:
            return cls.load(weights, scenario=scenario, device=device)
