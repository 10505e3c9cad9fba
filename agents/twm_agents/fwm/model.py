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


@dataclass(frozen=True)
class ModelShape:
    """Everything needed to rebuild the network before loading weights.

    The last ``config_channels`` of the ``in_channels`` are the candidate's (per-cell constant).
    """

    in_channels: int
    config_channels: int
    n_cells: int
    n_features: int
    grid: int
    members: int = 3
    width: int = 32
    hidden: int = 256

    @property
    def spatial_channels(self) -> int:
        return self.in_channels - self.config_channels


class FieldCNN(nn.Module):
    """One ensemble member: the CNN encoder and the per-cell readout to ``(C, F)`` features."""

    def __init__(self, shape: ModelShape) -> None:
        super().__init__()
        w, g, c = shape.width, shape.grid, shape.n_cells
        if g % 4:
            raise ValueError(f"grid must be a multiple of 4, got {g}")
        self.n_cells, self.n_features = c, shape.n_features
        self.conv1 = nn.Conv2d(shape.spatial_channels, w, 3, padding=1)
        self.conv2 = nn.Conv2d(w, 2 * w, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1)
        self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(2 * w * (g // 4) ** 2, shape.hidden), nn.GELU())
        self.cell_embedding = nn.Parameter(torch.zeros(c, _EMBED))
        self.field_in = nn.Linear(w + shape.hidden + _EMBED, _READOUT[0])
        self.config_in = nn.Linear(shape.config_channels, _READOUT[0], bias=False)
        self.readout = nn.Sequential(
            nn.GELU(), nn.Linear(*_READOUT), nn.GELU(), nn.Linear(_READOUT[1], shape.n_features)
        )
        self.act = nn.GELU()

    def field_code(self, z: Tensor, pool: Tensor) -> Tensor:
        """``(B, C, R)`` the readout's first layer from the spatial channels ``z (B, Cs, G, G)`` alone."""
        h1 = self.act(self.conv1(z))
        h3 = self.act(self.conv3(self.act(self.conv2(h1))))
        local = torch.einsum("bwx,cx->bcw", h1.flatten(2), pool)  # (B, C, w)
        context = self.trunk(h3)[:, None, :].expand(-1, self.n_cells, -1)
        cell = self.cell_embedding[None].expand(z.shape[0], -1, -1)
        return self.field_in(torch.cat([local, context, cell], dim=2))

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
        h1 = self.act(self.down1(z))
        h2 = self.act(self.down2(h1))
        h3 = self.act(self.down3(h2))
        u2 = self.act(self.dec2(torch.cat([self.up2(h3), h2], dim=1)))
        u1 = self.act(self.dec1(torch.cat([self.up1(u2), h1], dim=1)))
        return self.out(u1)[:, 0]


class FieldEnsemble(nn.Module):
    """``M`` :class:`FieldCNN` members, the field head, and the normalization (buffers).

    :meth:`forward` takes raw channels and returns natural units: features ``(M, B, C, F)`` and,
    when asked, the SINR map ``(B, G, G)`` in dB.
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
        c, f = shape.n_cells, shape.n_features
        # Which pixels each cell serves, rows normalized (set from the city: ``set_cells``).
        self.register_buffer("pool", torch.full((c, shape.grid**2), 1.0 / shape.grid**2))
        self.register_buffer("x_mean", torch.zeros(shape.in_channels, 1, 1))
        self.register_buffer("x_std", torch.ones(shape.in_channels, 1, 1))
        self.register_buffer("y_mean", torch.zeros(c, f))
        self.register_buffer("y_std", torch.ones(c, f))
        self.register_buffer("map_mean", torch.zeros(()))
        self.register_buffer("map_std", torch.ones(()))

    def set_normalization(self, x: Tensor, y: Tensor, sinr: Tensor) -> None:
        """Per-channel input, per (cell, feature) target and scalar map statistics from training data."""
        self.x_mean.copy_(x.mean(dim=(0, 2, 3))[:, None, None])
        self.x_std.copy_(x.std(dim=(0, 2, 3)).clamp_min(1e-3)[:, None, None])
        self.y_mean.copy_(y.mean(dim=0))
        self.y_std.copy_(y.std(dim=0).clamp_min(1e-3))
        self.map_mean.copy_(sinr.mean())
        self.map_std.copy_(sinr.std().clamp_min(1e-3))

    def set_cells(self, serve: Tensor) -> None:
        """The cell readout's pixel pools from the serving cell of every pixel ``(G*G,)``."""
        onehot = torch.nn.functional.one_hot(serve.long(), self.shape.n_cells).T.float()
        self.pool.copy_(onehot / onehot.sum(dim=1, keepdim=True).clamp_min(1.0))

    def split(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Normalized spatial channels ``(B, Cs, G, G)`` and per-cell configuration ``(B, C, Cc)``."""
        z = (x - self.x_mean) / self.x_std
        cs = self.shape.spatial_channels
        config = torch.einsum("bkx,cx->bck", z[:, cs:].flatten(2), self.pool)
        return z[:, :cs], config

    def forward(self, x: Tensor, with_field: bool = True) -> tuple[Tensor, Tensor | None]:
        z, config = self.split(x)
        y = torch.stack([m(z, config, self.pool) for m in self.members]) * self.y_std + self.y_mean
        field = self.field(z) * self.map_std + self.map_mean if with_field else None
        return y, field

    def features_shared(self, x_spatial: Tensor, x_config: Tensor) -> Tensor:
        """``(M, N, C, F)`` features of ``N`` candidates on one field: the encoder runs once.

        ``x_spatial (1, Cs, G, G)`` raw spatial channels; ``x_config (N, Cc, G, G)`` raw configuration.
        """
        cs = self.shape.spatial_channels
        z = (x_spatial - self.x_mean[:cs]) / self.x_std[:cs]
        zc = (x_config - self.x_mean[cs:]) / self.x_std[cs:]
        config = torch.einsum("bkx,cx->bck", zc.flatten(2), self.pool)
        members = cast(list[FieldCNN], list(self.members))
        y = torch.stack([m.features(m.field_code(z, self.pool), config) for m in members])
        return y * self.y_std + self.y_mean

    def features_steps(self, x_spatial: Tensor, cells: Tensor) -> Tensor:
        """``(M, K, N, C, F)`` features of ``N`` candidates on each of ``K`` fields (a plan's steps), the
        encoder batched over the fields once.

        ``x_spatial (K, Cs, G, G)`` raw spatial channels; ``cells (K, N, Cc, C)`` raw configuration per
        cell (``fields.config_cells``): what the readout's pixel pools of the painted channels give.
        """
        cs = self.shape.spatial_channels
        z = (x_spatial - self.x_mean[:cs]) / self.x_std[:cs]
        config = (cells - self.x_mean[cs:, 0]) / self.x_std[cs:, 0]
        served = (self.pool.sum(dim=1) > 0).to(config.dtype)  # a cell serving no pixel pools to 0
        config = (config * served).transpose(-1, -2)  # (K, N, C, Cc)
        members = cast(list[FieldCNN], list(self.members))
        y = torch.stack([m.features(m.field_code(z, self.pool)[:, None], config) for m in members])
        return y * self.y_std + self.y_mean
