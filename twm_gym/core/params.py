"""Frozen parameter records of the slicing twin.

Every number of the simulation lives here, in one of a handful of frozen dataclasses, so that a
scenario is plain data (see ``twm_gym/scenarios/data/*.json``) and a parameter set is hashable
(compiled arrays are cached per parameter set). Units are in the field comments. Bold facts of the
paper (section X-A) are the defaults of the ``city10`` scenario file, not of these classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

SLICES: tuple[str, ...] = ("embb", "urllc", "fwa")
"""Slice order on every ``S`` axis."""
EMBB, URLLC, FWA = 0, 1, 2
ZONES: tuple[str, ...] = ("hospital", "fwa", "corridor")
"""Zone names; membership of a cell is derived from the zone shapes."""


@dataclass(frozen=True)
class Capsule:
    """A segment thickened by ``radius``: a circle when both ends coincide. Metres."""

    x0: float
    y0: float
    x1: float
    y1: float
    radius: float


@dataclass(frozen=True)
class Zone:
    """A named operational zone: the union of its capsules."""

    name: str
    capsules: tuple[Capsule, ...]


@dataclass(frozen=True)
class RadioParams:
    """Propagation and link-budget constants of the exogenous field."""

    bandwidth_mhz: float = 100.0  # carrier bandwidth per cell, MHz
    tx_power_dbm: float = 46.0  # per-cell transmit power, dBm
    noise_figure_db: float = 7.0  # receiver noise figure, dB
    pathloss_intercept_db: float = 128.1  # PL(d) = intercept + slope * log10(d / 1 km), dB
    pathloss_slope_db: float = 37.6  # dB per decade of distance
    min_distance_m: float = 35.0  # distances are clamped below this, m
    shadowing_std_db: float = 6.0  # log-normal shadowing standard deviation, dB
    shadowing_corr_m: float = 150.0  # spatial correlation length of shadowing, m
    shadowing_seed: int = 2604  # the city's buildings: shadowing is fixed per city, not per episode
    shannon_gap_db: float = 3.0  # SE = log2(1 + SINR / gap), bit/s/Hz
    se_max: float = 5.5  # spectral-efficiency ceiling (highest MCS), bit/s/Hz
    min_activity: float = 0.1  # floor of a cell's interference activity factor, in [0, 1]


@dataclass(frozen=True)
class CityParams:
    """Cells, zones and the spatial grid. Positions in metres, origin at the south-west corner."""

    size_m: float  # side of the square area, m
    grid: int  # field grid is grid x grid pixels
    cell_xy: tuple[tuple[float, float], ...]  # (C, 2) cell-site positions, m
    zones: tuple[Zone, ...]
    hospital_center: tuple[float, float]  # hotspot shocks are drawn around this point, m
    corridor: tuple[tuple[float, float], ...]  # polyline the wave shocks travel along, m
    base_density: float = 1.0  # users per pixel everywhere (relative units)
    zone_density: float = 2.0  # extra users per pixel inside any zone (relative units)
    radio: RadioParams = field(default_factory=RadioParams)


@dataclass(frozen=True)
class Link:
    """One directed transport link ``src -> dst`` (uplink direction, toward the hub)."""

    src: str
    dst: str
    capacity_gbps: float  # uplink capacity, Gbps


@dataclass(frozen=True)
class TransportParams:
    """The hub-and-spoke transport network (a ``networkx.DiGraph``; see ``core/transport.py``)."""

    nodes: tuple[str, ...]  # aggregation nodes; ``hub`` is the core-facing one
    hub: str
    cell_node: tuple[str, ...]  # (C,) the aggregation node each cell hangs off
    links: tuple[Link, ...]  # (L,) directed links
    buffer_mbit: tuple[float, float, float] = (60.0, 1.0, 60.0)  # per-link per-slice buffer, Mbit
    hop_latency_ms: float = 1.0  # propagation + switching latency per traversed link, ms


@dataclass(frozen=True)
class DemandParams:
    """Offered traffic per cell and slice (the EGW demand process), Mbps."""

    base_mbps: tuple[float, float, float]  # mean offered load of a cell in no zone, per slice
    zone_gain: tuple[tuple[str, tuple[float, float, float]], ...]  # (zone, per-slice multiplier)
    profile_amplitude: tuple[float, float, float] = (0.2, 0.1, 0.15)  # busy-hour bump over 12 steps
    ar_rho: float = 0.7  # AR(1) coefficient of the slow log-demand deviation
    ar_sigma: float = 0.08  # stationary std of the slow log-demand deviation
    burst_sigma: tuple[float, float, float] = (0.25, 0.3, 0.2)  # per-sub-step log-normal burst std


@dataclass(frozen=True)
class HotspotParams:
    """Hotspot shocks: spatial surges around a place (paper X-A: near the hospital zone).

    Shorthand for the first surge event of :attr:`Scenario.shocks` (a placed one, no cross load).

    ``at`` places the surge: ``""`` (the city's ``hospital_center``), ``"cell:K"`` (cell ``K``'s
    site), ``"cells:I,J,..."`` (the centroid of those sites), ``"zone:NAME"`` (the centroid of the
    zone's capsules) or ``"point:X,Y"`` (metres). ``start_step`` schedules one hotspot at that step
    (``-1``: hotspots start at random, with probability ``rate`` per step).
    """

    rate: float = 0.0  # probability per slow step that a hotspot starts (when none is active)
    intensity: float = 2.0  # mean surge multiplier at the hotspot centre
    intensity_sigma: float = 0.3  # log-normal spread of the intensity
    radius_m: float = 300.0  # Gaussian radius of the surge, m
    center_sigma_m: float = 250.0  # spread of the centre around its place ``at``, m
    duration_steps: int = 3  # slow steps a hotspot lasts
    slice_gain: tuple[float, float, float] = (0.5, 1.0, 0.0)  # surge weight per slice
    density_gain: float = 3.0  # extra users per pixel at the centre, per unit intensity
    fail_boost: float = 0.0  # extra failure probability of links whose node is under the surge
    at: str = ""  # where the surge is centred (class docstring); "" is the city's hospital_center
    start_step: int = -1  # the step one scheduled hotspot starts at; -1: random starts at ``rate``


@dataclass(frozen=True)
class WaveParams:
    """Wave shocks: events travelling along a path that stress its transport (paper X-A: the corridor).

    ``path`` is the polyline the front travels end to end (either way; empty: the city's
    ``corridor``); ``start_step`` schedules one wave at that step (``-1``: random starts at ``rate``).
    Shorthand for the second surge event of :attr:`Scenario.shocks`: one travelling its path, with a
    radius of ``width_m``, no spread of its centre, and a log-normal intensity of spread
    :data:`WAVE_INTENSITY_SIGMA` whose *median* (not mean, as for the other events) is ``intensity``.
    """

    rate: float = 0.0  # probability per slow step that a wave starts (when none is active)
    intensity: float = 1.0  # median surge multiplier of demand at the front
    duration_steps: int = 6  # slow steps to traverse the whole corridor
    width_m: float = 350.0  # Gaussian half-width of the front, m
    cross_load: float = 0.4  # fraction of a link's capacity taken by the wave's cross traffic
    slice_gain: tuple[float, float, float] = (1.0, 0.2, 0.8)  # surge weight per slice
    density_gain: float = 1.5  # extra users per pixel at the front, per unit intensity
    fail_boost: float = 0.05  # extra failure probability of links whose node is at the front
    path: tuple[tuple[float, float], ...] = ()  # polyline the front travels, m; () is the city's corridor
    start_step: int = -1  # the step one scheduled wave starts at; -1: random starts at ``rate``


WAVE_INTENSITY_SIGMA = 0.2
"""Log-normal spread of a wave's intensity (the paper's wave family)."""


@dataclass(frozen=True)
class SurgeEvent:
    """One more shock, composed with the scenario's hotspot and wave: a surge of demand and users.

    It sits at a place (``at``, as :class:`HotspotParams`'s) or, when ``path`` has two or more points,
    travels it end to end (either way) over its duration; it starts at random (``rate`` per step
    while it is not running) or once at ``start_step``. Near its centre it multiplies demand by
    ``1 + I g_s exp(-d^2 / 2 r^2)``, adds users, takes ``cross_load`` of the capacity of links
    whose node it covers and raises their failure probability by ``fail_boost``.
    """

    at: str = ""  # where it sits when ``path`` is empty (HotspotParams.at's forms)
    path: tuple[tuple[float, float], ...] = ()  # polyline it travels, m (two points or more); (): it stays put
    start_step: int = -1  # the step it starts at; -1: random starts at ``rate``
    rate: float = 0.0  # probability per slow step that it starts (when not running)
    duration_steps: int = 3  # slow steps it lasts
    intensity: float = 2.0  # mean surge multiplier at its centre
    intensity_sigma: float = 0.3  # log-normal spread of the intensity
    radius_m: float = 300.0  # Gaussian radius of the surge, m
    center_sigma_m: float = 0.0  # random spread of its centre (a placed one), m
    slice_gain: tuple[float, float, float] = (1.0, 1.0, 1.0)  # surge weight per slice
    density_gain: float = 2.0  # extra users per pixel at the centre, per unit intensity
    cross_load: float = 0.0  # fraction of a covered link's capacity taken by its cross traffic
    fail_boost: float = 0.0  # extra failure probability of the links it covers


@dataclass(frozen=True)
class LinkEvent:
    """A scheduled change of one transport link's capacity: a failure (factor 0) or a degradation."""

    link: str  # "SRC->DST", a link of the transport network
    start_step: int  # first slow step affected
    duration_steps: int  # slow steps affected
    capacity_factor: float = 0.0  # capacity kept meanwhile: 0 is a failure (the link is down), else in (0, 1)


@dataclass(frozen=True)
class FailureParams:
    """Transport-link failures: random ones with their repair, and scheduled :class:`LinkEvent` s."""

    prob: float = 0.005  # failure probability per link per slow step
    repair_steps: int = 3  # slow steps a failed link stays down
    scheduled: tuple[LinkEvent, ...] = ()  # failures and degradations at fixed steps


@dataclass(frozen=True)
class SimParams:
    """Timescales, radio buffers and latency constants of the queueing model."""

    horizon: int = 12  # slow steps per episode (one RIC decision each)
    substeps: int = 15  # fast queueing sub-steps per slow step
    slow_step_s: float = 60.0  # duration of a slow step, s (sub-step = slow_step_s / substeps)
    radio_buffer_mbit: tuple[float, float, float] = (40.0, 1.0, 40.0)  # per-cell per-slice, Mbit
    radio_latency_ms: float = 2.0  # air-interface + processing latency, ms
    latency_cap_ms: float = 1000.0  # latency reported for unserved or unroutable traffic, ms


@dataclass(frozen=True)
class CostParams:
    """Weights of the normalized control cost (see ``core/kpi.py:control_cost``)."""

    radio_weight: float = 0.5  # weight of the provisioned PRB fraction
    transport_weight: float = 0.5  # weight of the provisioned bandwidth fraction
    switch_weight: float = 0.5  # weight of the mean absolute share change between steps


@dataclass(frozen=True)
class SLAParams:
    """SLA ceilings of the paper's KPIs (section X-A/X-C)."""

    loss_ceiling: tuple[float, float, float] = (0.25, 0.10, 0.20)  # eMBB, URLLC, FWA loss rate
    d99_ceiling_ms: float = 20.0  # URLLC 99th-percentile latency ceiling, ms


@dataclass(frozen=True)
class Scenario:
    """A complete, named parameter set: city, transport, exogenous world and KPI constants."""

    name: str
    description: str
    family: str  # a free label of the scenario's family ("hotspot", "wave", "none", or any other)
    ood: bool  # True for the amplified (out-of-distribution) variant
    nominal: str  # the in-distribution scenario agents' twins sample futures from
    city: CityParams
    transport: TransportParams
    demand: DemandParams
    hotspot: HotspotParams = field(default_factory=HotspotParams)
    wave: WaveParams = field(default_factory=WaveParams)
    failures: FailureParams = field(default_factory=FailureParams)
    events: tuple[SurgeEvent, ...] = ()  # further shocks, composed with the hotspot and the wave
    sim: SimParams = field(default_factory=SimParams)
    cost: CostParams = field(default_factory=CostParams)
    sla: SLAParams = field(default_factory=SLAParams)

    def __hash__(self) -> int:
        # Hashed on every compile_scenario() look-up; the nested tuples are hashed once.
        cached: int | None = self.__dict__.get("_hash")
        if cached is None:
            cached = hash(tuple(getattr(self, f) for f in self.__dataclass_fields__))
            object.__setattr__(self, "_hash", cached)
        return cached

    @property
    def n_cells(self) -> int:
        return len(self.city.cell_xy)

    @property
    def n_links(self) -> int:
        return len(self.transport.links)

    @property
    def horizon(self) -> int:
        return self.sim.horizon

    @property
    def shocks(self) -> tuple[SurgeEvent, ...]:
        """Every surge process of the episode as one event list: the hotspot, the wave, then ``events``.

        The paper's two shock families (X-A) are instances of :class:`SurgeEvent`: the dynamics
        (``core/egw.py``) run this list and know no family by name. The hotspot and the wave
        keep their slots (0 and 1) whether or not they can start, so observations keep their shape.
        """
        hot, wave = self.hotspot, self.wave
        hotspot = SurgeEvent(
            at=hot.at,
            start_step=hot.start_step,
            rate=hot.rate,
            duration_steps=hot.duration_steps,
            intensity=hot.intensity,
            intensity_sigma=hot.intensity_sigma,
            radius_m=hot.radius_m,
            center_sigma_m=hot.center_sigma_m,
            slice_gain=hot.slice_gain,
            density_gain=hot.density_gain,
            fail_boost=hot.fail_boost,
        )
        front = SurgeEvent(
            path=wave.path or self.city.corridor,
            start_step=wave.start_step,
            rate=wave.rate,
            duration_steps=wave.duration_steps,
            intensity=wave.intensity,
            intensity_sigma=WAVE_INTENSITY_SIGMA,
            radius_m=wave.width_m,
            slice_gain=wave.slice_gain,
            density_gain=wave.density_gain,
            cross_load=wave.cross_load,
            fail_boost=wave.fail_boost,
        )
        return (hotspot, front, *self.events)

    def without_shocks(self) -> Scenario:
        """The same city, load, link failures and constants with no surge process (no shock starts)."""
        return replace(
            self,
            hotspot=replace(self.hotspot, rate=0.0, start_step=-1),
            wave=replace(self.wave, rate=0.0, start_step=-1),
            events=(),
        )
