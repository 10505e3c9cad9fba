"""The FWM network: the paper's 3-layer CNN regressor, a per-cell readout, and a U-Net field head.

An ensemble member (:class:`FieldCNN`):

* encoder: three 3x3 convolutions with GELU over the *spatial* channels (static and exogenous):
  ``G x G`` (``width`` channels), then ``G/2`` and ``G/4`` (``2 width``, stride 2);
* per-cell readout: each cell's full-resolution features averaged over its pixels, the flattened
  ``G/4 x G/4`` map through one hidden layer (global context: interference, routing), a learned
  cell embedding, and the cell's *configuration* (the candidate's channels, constant over a cell's
  pixels, so pooling reads them exactly), through an MLP shared by all cells, to the cell's 12
  field features (standardized per cell and feature).

The configuration enters after the convolutions: the field is the same for every candidate at a
step, so scoring ``N`` candidates runs the encoder once and the readout ``N`` times
(:meth:`FieldEnsemble.features_shared`), and its first layer is split so the candidate-free part
is computed once as well.

With ``cells="sets"`` (:class:`ModelShape.cells`) one network reads a city of any size and any
grid: no cell embedding and no flattened map. The global context is the deepest map's mean and
maximum over space; each cell reads the full-resolution features' mean *and soft minimum*
(``-log mean exp(-h)``) over its pixels (its worst pixels: the cell edge, where the SINR
percentile lives) and the deepest map pooled over its pixels (its neighbourhood: interference and
routing around it); the inputs add the city's radio geometry (``fields.GEOMETRY_CHANNELS``); the
targets are standardized per feature; and the pixel pools come from the city at every call (cells
as a set, the paper's section VIII). The grid is padded to a multiple of 4 inside the network.

The field head (:class:`FieldUNet`, one per ensemble) is a small U-Net from the spatial channels to
the SINR map. :class:`FieldEnsemble` holds ``M`` members, the field head and the input/target
normalization as buffers, so a checkpoint is its ``state_dict`` alone (``agents/twm_agents/fwm/checkpoint.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch
from torch import Tensor, nn

_EMBED = 8  # cell embedding size
_READOUT = (128, 64)  # hidden units of the per-cell readout
CELL_MODES = ("fixed", "sets")
"""How the readout knows the cells: one city's (a learned embedding each), or any city's (a set)."""


def _pad4(z: Tensor) -> Tensor:
    """``z (B, K, G, G)`` zero-padded right and below to a multiple of 4 (a no-op when it is one)."""
    extra = -z.shape[-1] % 4
    return torch.nn.functional.pad(z, (0, extra, 0, extra)) if extra else z


@dataclass(frozen=True)
class ModelShape:
    """Everything needed to rebuild the network before loading weights.

    The last ``config_channels`` of the ``in_channels`` are the candidate's (per-cell constant).
    ``cells``: ``"fixed"`` fits one city (``n_cells`` and ``grid`` are its own); ``"sets"`` reads any
    city (``n_cells`` and ``grid`` are 0, the city comes with each call).
    """

    in_channels: int
    config_channels: int
    n_cells: int
    n_features: int
    grid: int
    members: int = 3
    width: int = 32
    hidden: int = 256
    cells: str = "fixed"

    def __post_init__(self) -> None:
        if self.cells not in CELL_MODES:
            raise ValueError(f"ModelShape.cells must be one of {CELL_MODES}, got {self.cells!r}")

    @property
    def any_city(self) -> bool:
        return self.cells == "sets"

    @property
    def spatial_channels(self) -> int:
        return self.in_channels - self.config_channels


class FieldCNN(nn.Module):
    """One ensemble member: the CNN encoder and the per-cell readout to ``(C, F)`` features."""

    def __init__(self, shape: ModelShape) -> None:
        super().__init__()
        w, g, c = shape.width, shape.grid, shape.n_cells
        if not shape.any_city and g % 4:
            raise ValueError(f"grid must be a multiple of 4, got {g}")
        self.any_city, self.n_features = shape.any_city, shape.n_features
        self.conv1 = nn.Conv2d(shape.spatial_channels, w, 3, padding=1)
        self.conv2 = nn.Conv2d(w, 2 * w, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1)
        if self.any_city:  # global context: the deepest map's mean and max; per cell: its neighbourhood
            self.trunk = nn.Sequential(nn.Linear(4 * w, shape.hidden), nn.GELU())
            self.field_in = nn.Linear(2 * w + 2 * w + shape.hidden, _READOUT[0])
        else:
            self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(2 * w * (g // 4) ** 2, shape.hidden), nn.GELU())
            self.cell_embedding = nn.Parameter(torch.zeros(c, _EMBED))
            self.field_in = nn.Linear(w + shape.hidden + _EMBED, _READOUT[0])
        self.config_in = nn.Linear(shape.config_channels, _READOUT[0], bias=False)
        self.readout = nn.Sequential(
            nn.GELU(), nn.Linear(*_READOUT), nn.GELU(), nn.Linear(_READOUT[1], shape.n_features)
        )
        self.act = nn.GELU()

    def field_code(self, z: Tensor, pool: Tensor) -> Tensor:
        """``(B, C, R)`` the readout's first layer from the spatial channels ``z (B, Cs, G, G)`` alone;
        ``pool (C, G*G)`` each cell's pixels, rows summing to 1."""
        g, n_cells = z.shape[-1], pool.shape[0]
        h1 = self.act(self.conv1(_pad4(z)))
        h3 = self.act(self.conv3(self.act(self.conv2(h1))))
        local = torch.einsum("bwx,cx->bcw", h1[..., :g, :g].flatten(2), pool)  # (B, C, w)
        if self.any_city:
            context = self.trunk(torch.cat([h3.mean(dim=(2, 3)), h3.amax(dim=(2, 3))], dim=1))
            near = nn.functional.interpolate(h3, scale_factor=4, mode="nearest")[..., :g, :g]
            around = torch.einsum("bwx,cx->bcw", near.flatten(2), pool)  # (B, C, 2w)
            # soft minimum over the cell's pixels, -log(mean(exp(-h))): between the minimum and the mean
            soft = torch.einsum("bwx,cx->bcw", torch.exp(-h1[..., :g, :g].flatten(2)), pool)
            low = -torch.log(soft.clamp_min(1e-12))
            parts = [local, low, around, context[:, None, :].expand(-1, n_cells, -1)]
        else:
            context = self.trunk(h3)[:, None, :].expand(-1, n_cells, -1)
            parts = [local, context, self.cell_embedding[None].expand(z.shape[0], -1, -1)]
        return self.field_in(torch.cat(parts, dim=2))

    def features(self, code: Tensor, config: Tensor) -> Tensor:
        """``(N, C, F)`` standardized features from field codes ``(N or 1, C, R)`` and ``config (N, C, Cc)``."""
        return self.readout(code + self.config_in(config))

    def forward(self, z: Tensor, config: Tensor, pool: Tensor) -> Tensor:
        return self.features(self.field_code(z, pool), config)


class FieldUNet(nn.Module):
    """The field head: a small U-Net from the spatial channels to the ``(G, G)`` SINR map (standardized).

    Three convolutions down (``G``, ``G/2``, ``G/4``: the deepest map sees every cell's
    activity, which sets the interference), two transposed convolutions back up with skip
    connections, a 1x1 output.
    """

    def __init__(self, shape: ModelShape) -> None:
        super().__init__()
        w = shape.width // 2
        self.down1 = nn.Conv2d(shape.spatial_channels, w, 3, padding=1)
        self.down2 = nn.Conv2d(w, 2 * w, 3, stride=2, padding=1)
        self.down3 = nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1)
        self.up2 = nn.ConvTranspose2d(2 * w, 2 * w, 2, stride=2)
        self.dec2 = nn.Conv2d(4 * w, w, 3, padding=1)
        self.up1 = nn.ConvTranspose2d(w, w, 2, stride=2)
        self.dec1 = nn.Conv2d(2 * w, w, 3, padding=1)
        self.out = nn.Conv2d(w, 1, 1)
        self.act = nn.GELU()

    def forward(self, z: Tensor) -> Tensor:
        g = z.shape[-1]
        h1 = self.act(self.down1(_pad4(z)))
        h2 = self.act(self.down2(h1))
        h3 = self.act(self.down3(h2))
        u2 = self.act(self.dec2(torch.cat([self.up2(h3), h2], dim=1)))
        u1 = self.act(self.dec1(torch.cat([self.up1(u2), h1], dim=1)))
        return self.out(u1)[:, 0, :g, :g]


class FieldEnsemble(nn.Module):
    """``M`` :class:`FieldCNN` members, the field head, and the normalization (buffers).

    :meth:`forward` takes raw channels and returns natural units: features ``(M, B, C, F)`` and,
    when asked, the SINR map ``(B, G, G)`` in dB. Every method takes the city's pixel pools
    (:func:`cell_pools`) as ``pool``; a one-city model (``cells="fixed"``) keeps its own and
    ignores the argument, an any-city model needs it.
    """

    pool: Tensor
    x_mean: Tensor
    x_std: Tensor
    y_mean: Tensor
    y_std: Tensor
    map_mean: Tensor
    map_std: Tensor

    def __init__(self, shape: ModelShape) -> None:
        super().__init__()
        self.shape = shape
        self.members = nn.ModuleList(FieldCNN(shape) for _ in range(shape.members))
        self.field = FieldUNet(shape)
        c, f = (1, shape.n_features) if shape.any_city else (shape.n_cells, shape.n_features)
        if not shape.any_city:  # which pixels each cell serves, rows normalized (``set_cells``)
            self.register_buffer("pool", torch.full((c, shape.grid**2), 1.0 / shape.grid**2))
        self.register_buffer("x_mean", torch.zeros(shape.in_channels, 1, 1))
        self.register_buffer("x_std", torch.ones(shape.in_channels, 1, 1))
        self.register_buffer("y_mean", torch.zeros(c, f))  # per (cell, feature), or per feature
        self.register_buffer("y_std", torch.ones(c, f))
        self.register_buffer("map_mean", torch.zeros(()))
        self.register_buffer("map_std", torch.ones(()))

    def set_normalization(self, x: Tensor, y: Tensor, sinr: Tensor) -> None:
        """Input, target and map statistics from training data ``x (N, Cin, G, G)``, ``y (N, C, F)``,
        ``sinr (N, G, G)``: per input channel, per (cell, feature) target (per feature for any city)."""
        self.set_statistics(
            x.mean(dim=(0, 2, 3)),
            x.std(dim=(0, 2, 3)),
            y.mean(dim=0) if not self.shape.any_city else y.mean(dim=(0, 1))[None],
            y.std(dim=0) if not self.shape.any_city else y.std(dim=(0, 1))[None],
            sinr.mean(),
            sinr.std(),
        )

    def set_statistics(
        self, x_mean: Tensor, x_std: Tensor, y_mean: Tensor, y_std: Tensor, map_mean: Tensor, map_std: Tensor
    ) -> None:
        """Set the normalization (standard deviations floored at 1e-3)."""
        self.x_mean.copy_(x_mean[:, None, None])
        self.x_std.copy_(x_std.clamp_min(1e-3)[:, None, None])
        self.y_mean.copy_(y_mean)
        self.y_std.copy_(y_std.clamp_min(1e-3))
        self.map_mean.copy_(map_mean)
        self.map_std.copy_(map_std.clamp_min(1e-3))

    def set_cells(self, serve: Tensor) -> None:
        """A one-city model's pixel pools from the serving cell of every pixel ``(G*G,)``."""
        if self.shape.any_city:
            raise ValueError("an any-city model takes the pools with each call (pool=cell_pools(serve, n_cells))")
        self.pool.copy_(cell_pools(serve, self.shape.n_cells))

    def pools(self, pool: Tensor | None) -> Tensor:
        """The pixel pools to use: the model's own (one city) or ``pool`` (any city)."""
        if not self.shape.any_city:
            return self.pool
        if pool is None:
            raise ValueError("pool: an any-city FWM needs the city's pixel pools (fwm.model.cell_pools)")
        return pool

    def split(self, x: Tensor, pool: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Normalized spatial channels ``(B, Cs, G, G)`` and per-cell configuration ``(B, C, Cc)``."""
        z = (x - self.x_mean) / self.x_std
        cs = self.shape.spatial_channels
        config = torch.einsum("bkx,cx->bck", z[:, cs:].flatten(2), self.pools(pool))
        return z[:, :cs], config

    def forward(self, x: Tensor, with_field: bool = True, pool: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        pool = self.pools(pool)
        z, config = self.split(x, pool)
        y = torch.stack([m(z, config, pool) for m in self.members]) * self.y_std + self.y_mean
        field = self.field(z) * self.map_std + self.map_mean if with_field else None
        return y, field

    def features_shared(self, x_spatial: Tensor, x_config: Tensor, pool: Tensor | None = None) -> Tensor:
        """``(M, N, C, F)`` features of ``N`` candidates on one field: the encoder runs once.

        ``x_spatial (1, Cs, G, G)`` raw spatial channels; ``x_config (N, Cc, G, G)`` raw configuration.
        """
        pool = self.pools(pool)
        cs = self.shape.spatial_channels
        z = (x_spatial - self.x_mean[:cs]) / self.x_std[:cs]
        zc = (x_config - self.x_mean[cs:]) / self.x_std[cs:]
        config = torch.einsum("bkx,cx->bck", zc.flatten(2), pool)
        members = cast(list[FieldCNN], list(self.members))
        y = torch.stack([m.features(m.field_code(z, pool), config) for m in members])
        return y * self.y_std + self.y_mean

    def features_steps(self, x_spatial: Tensor, cells: Tensor, pool: Tensor | None = None) -> Tensor:
        """``(M, K, N, C, F)`` features of ``N`` candidates on each of ``K`` fields (a plan's steps), the
        encoder batched over the fields once.

        ``x_spatial (K, Cs, G, G)`` raw spatial channels; ``cells (K, N, Cc, C)`` raw configuration per
        cell (``fields.config_cells``): what the readout's pixel pools of the painted channels give.
        """
        pool = self.pools(pool)
        cs = self.shape.spatial_channels
        z = (x_spatial - self.x_mean[:cs]) / self.x_std[:cs]
        config = (cells - self.x_mean[cs:, 0]) / self.x_std[cs:, 0]
        served = (pool.sum(dim=1) > 0).to(config.dtype)  # a cell serving no pixel pools to 0
        config = (config * served).transpose(-1, -2)  # (K, N, C, Cc)
        members = cast(list[FieldCNN], list(self.members))
        y = torch.stack([m.features(m.field_code(z, pool)[:, None], config) for m in members])
        return y * self.y_std + self.y_mean


def cell_pools(serve: Tensor, n_cells: int) -> Tensor:
    """``(C, G*G)`` pixel pools from the serving cell of every pixel ``serve (G*G,)``: each cell's
    pixels, its row summing to 1 (a cell serving no pixel has a zero row)."""
    onehot = torch.nn.functional.one_hot(serve.long(), n_cells).T.float()
    return onehot / onehot.sum(dim=1, keepdim=True).clamp_min(1.0)
