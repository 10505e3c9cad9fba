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
from twm_agents.fwm.fields import FieldGeometry, field_geometry
from twm_agents.fwm.model import FieldEnsemble, ModelShape, cell_pools
from twm_gym.core.params import Scenario

F32 = NDArray[np.float32]

DEFAULT_CHECKPOINT = "default"
"""Name of the checkpoint shipped in ``agents/twm_agents/fwm/checkpoints`` (its recipe: ``docs/explanation/fwm.md``)."""
SHIPPED_CHECKPOINTS: dict[str, str] = {
    "default": "the paper's city: hotspot-id and wave-id (twm-bench train fwm)",
    "sets": "any city: the train split's generated cities and families (twm-bench train fwm --config sets)",
}
"""The checkpoints shipped in ``agents/twm_agents/fwm/checkpoints``, by name."""


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
    """A trained Field World Model (load one with :meth:`load`, :meth:`default` or :meth:`named`).

    ``intervals`` None (before calibration) gives unbounded intervals. Every ``predict*`` takes the
    city as ``city`` (its :class:`~twm_agents.fwm.fields.FieldGeometry`): an any-city model
    (``shape.any_city``) needs it, a one-city model checks the grid against its own.
    """

    def __init__(
        self, ensemble: FieldEnsemble, intervals: FeatureIntervals | None, meta: dict[str, Any], device: str = "auto"
    ) -> None:
        self.device = resolve_device(device)
        self.ensemble = ensemble.to(self.device).eval()
        self.intervals = intervals
        self.meta = meta
        self._pools: dict[bytes, torch.Tensor] = {}

    @property
    def shape(self) -> ModelShape:
        return self.ensemble.shape

    def serves(self, geom: FieldGeometry) -> bool:
        """Whether the model can read this city (any city, or the one it was trained on)."""
        return self.shape.any_city or self.meta.get("geometry") == checkpoint.geometry_digest(geom)

    def _pool(self, city: FieldGeometry | None, grid: int, cells: int | None = None) -> torch.Tensor | None:
        """The city's pixel pools for an any-city model (cached per city); None for a one-city model."""
        if not self.shape.any_city:
            if grid != self.shape.grid:
                raise ValueError(f"this FWM reads its own city's {self.shape.grid}x{self.shape.grid} grid, got {grid}")
            return None
        if city is None:
            raise ValueError("city: an any-city FWM needs the city's geometry (fwm.fields.field_geometry(scenario))")
        if city.grid != grid or (cells is not None and cells != city.n_cells):
            raise ValueError(f"inputs of a {grid}x{grid} grid do not match the city's {city.grid}x{city.grid}")
        key = city.serve.tobytes() + city.n_cells.to_bytes(4, "little")
        if key not in self._pools:
            if len(self._pools) >= 16:
                self._pools.clear()
            self._pools[key] = cell_pools(torch.from_numpy(city.serve.copy()), city.n_cells).to(self.device)
        return self._pools[key]

    @torch.inference_mode()
    def predict(
        self,
        x: F32,
        *,
        city: FieldGeometry | None = None,
        with_field: bool = True,
        confidence: float = 0.9,
        batch_size: int = 2048,
    ) -> FieldPrediction:
        """Features (with intervals at ``confidence``) and optionally SINR maps of ``x (N, Cin, G, G)``."""
        if x.ndim != 4 or x.shape[1] != self.shape.in_channels or x.shape[2] != x.shape[3]:
            raise ValueError(f"x must have shape (N, {self.shape.in_channels}, G, G), got {x.shape}")
        pool = self._pool(city, x.shape[-1])
        ys, maps = [], []
        for i in range(0, x.shape[0], batch_size):
            xb = self._tensor(x[i : i + batch_size])
            y, field = self.ensemble(xb, with_field=with_field, pool=pool)
            ys.append(y.cpu().numpy())
            if field is not None:
                maps.append(field.cpu().numpy())
        return self._prediction(np.concatenate(ys, axis=1), np.concatenate(maps) if maps else None, confidence)

    @torch.inference_mode()
    def predict_shared(
        self, x_spatial: F32, x_config: F32, *, city: FieldGeometry | None = None, confidence: float = 0.9
    ) -> FieldPrediction:
        """Features of ``N`` candidates on one field: ``x_spatial (1, Cs, G, G)``, ``x_config (N, Cc, G, G)``.

        Equals :meth:`predict` on the concatenated channels (up to float rounding) at a fraction
        of the cost: the encoder runs once.
        """
        cs, g = self.shape.spatial_channels, x_spatial.shape[-1]
        if x_spatial.shape != (1, cs, g, g) or x_config.shape[1:] != (self.shape.config_channels, g, g):
            raise ValueError(
                f"x_spatial must be (1, {cs}, G, G) and x_config (N, {self.shape.config_channels}, G, G); "
                f"got {x_spatial.shape} and {x_config.shape}"
            )
        pool = self._pool(city, g)
        y = self.ensemble.features_shared(self._tensor(x_spatial), self._tensor(x_config), pool)
        return self._prediction(y.cpu().numpy(), None, confidence)

    @torch.inference_mode()
    def predict_steps(self, x_spatial: F32, cells: F32, *, city: FieldGeometry | None = None) -> F32:
        """Mean features ``(K, N, C, F)`` of ``N`` candidates on each of ``K`` fields (no intervals):
        ``x_spatial (K, Cs, G, G)``, ``cells (K, N, Cc, C)`` (``fields.config_cells``). Equals
        :meth:`predict_shared` per field (up to float rounding), the encoder batched over the fields."""
        cs, cc, g = self.shape.spatial_channels, self.shape.config_channels, x_spatial.shape[-1]
        c = self.shape.n_cells if not self.shape.any_city else (city.n_cells if city is not None else -1)
        k = x_spatial.shape[0]
        if x_spatial.shape != (k, cs, g, g) or cells.ndim != 4 or cells.shape[0] != k or cells.shape[2:] != (cc, c):
            raise ValueError(
                f"x_spatial must be (K, {cs}, G, G) and cells (K, N, {cc}, {c}); "
                f"got {x_spatial.shape} and {cells.shape}"
            )
        pool = self._pool(city, g)
        y = self.ensemble.features_steps(self._tensor(x_spatial), self._tensor(cells), pool)
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
            if scenario is not None and not shape.any_city:
                digest = checkpoint.geometry_digest(field_geometry(scenario))
                if meta.get("geometry") != digest:
                    raise checkpoint.CheckpointError(
                        f"{path}: trained on another city (geometry digest {str(meta.get('geometry'))[:12]}...) "
                        f"than scenario {scenario.name!r} ({digest[:12]}...)"
                    )
            return cls(ensemble, FeatureIntervals.from_arrays(calibration), meta, device=device)

    @classmethod
    def default(
        cls, scenario: Scenario | None = None, device: str = "auto", name: str = DEFAULT_CHECKPOINT
    ) -> FieldModel:
        """A checkpoint shipped with the package, by ``name`` (:data:`SHIPPED_CHECKPOINTS`)."""
        if name not in SHIPPED_CHECKPOINTS:
            raise ValueError(f"name: no shipped FWM checkpoint {name!r}; choose one of {sorted(SHIPPED_CHECKPOINTS)}")
        root = resources.files("twm_agents.fwm") / "checkpoints"
        with resources.as_file(root / f"{name}.safetensors") as weights:
            return cls.load(weights, scenario=scenario, device=device)

    @classmethod
    def named(cls, ref: str, scenario: Scenario | None = None, device: str = "auto") -> FieldModel:
        """A shipped checkpoint by name ('' for ``default``), else a checkpoint path."""
        if not ref or ref in SHIPPED_CHECKPOINTS:
            return cls.default(scenario=scenario, device=device, name=ref or DEFAULT_CHECKPOINT)
        return cls.load(ref, scenario=scenario, device=device)
