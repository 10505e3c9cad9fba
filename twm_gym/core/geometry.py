"""Plane geometry of the city: zone membership and positions along the corridor. Metres."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from twm_gym.core.params import ZONES, CityParams, Zone


def capsule_distance(points: NDArray[np.floating], zone: Zone) -> NDArray[np.float64]:
    """Distance (m) from each of ``points`` ``(..., 2)`` to the zone's boundary region, 0 inside."""
    pts = np.asarray(points, dtype=np.float64)
    best = np.full(pts.shape[:-1], np.inf)
    for cap in zone.capsules:  # a handful of shapes, evaluated once at compile time
        a = np.array([cap.x0, cap.y0])
        ab = np.array([cap.x1 - cap.x0, cap.y1 - cap.y0])
        denom = float(ab @ ab)
        t = np.zeros(pts.shape[:-1]) if denom == 0.0 else np.clip(((pts - a) @ ab) / denom, 0.0, 1.0)
        nearest = a + t[..., None] * ab
        d = np.linalg.norm(pts - nearest, axis=-1) - cap.radius
        best = np.minimum(best, np.maximum(d, 0.0))
    return best


def zone_membership(city: CityParams) -> NDArray[np.bool_]:
    """``(Z, C)`` True where cell ``c`` lies inside zone ``ZONES[z]`` (zones absent from the city: all False)."""
    xy = np.asarray(city.cell_xy, dtype=np.float64)
    out = np.zeros((len(ZONES), len(xy)), dtype=bool)
    for zone in city.zones:
        out[ZONES.index(zone.name)] |= capsule_distance(xy, zone) == 0.0
    return out


def zone_mask(city: CityParams, points: NDArray[np.floating]) -> NDArray[np.bool_]:
    """``(Z, ...)`` True where a point lies inside each zone."""
    out = np.zeros((len(ZONES), *np.shape(points)[:-1]), dtype=bool)
    for zone in city.zones:
        out[ZONES.index(zone.name)] |= capsule_distance(points, zone) == 0.0
    return out


def pixel_centers(city: CityParams) -> NDArray[np.float64]:
    """``(G*G, 2)`` pixel-centre coordinates, row-major from the south-west corner."""
    g = city.grid
    step = city.size_m / g
    ax = (np.arange(g) + 0.5) * step
    yy, xx = np.meshgrid(ax, ax, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], axis=1)
