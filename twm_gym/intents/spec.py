"""What an operator intent compiles to: a typed, validated spec (pydantic; JSON Schema exported).

An :class:`IntentSpec` holds objective weights (compliance vs cost), hard SLA constraints (per
slice: loss in %, URLLC 99th-percentile latency in ms), action restrictions (share floors and
caps on cells, zones, links or everything, per slice), a time window of slow steps and a
context (event, links in maintenance). Structural errors (types, ranges, unknown fields) are
pydantic validation errors naming the field; :func:`check` then finds what is well-formed but
wrong for a scenario — cells that do not exist, a floor above a cap, floors summing above 1,
a constraint tighter than physics allows, a cap of 0 (every slice has an SLA) — and returns them
as :class:`Issue` s, each with a clarifying question, never as a silent plan.

``python -m twm_gym.intents.spec`` prints the JSON Schema.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from twm_gym.core.params import Scenario

Slice = Literal["embb", "urllc", "fwa"]
SLICE_NAMES: tuple[str, ...] = ("embb", "urllc", "fwa")
MIN_LATENCY_MS = 3.0
"""The twin's latency floor (radio + one transport hop): a tighter ceiling cannot be met."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Objective(_Strict):
    """Weights of SLA compliance and of cost saving in the utility (paper: compliance first)."""

    compliance: float = Field(1.0, ge=0.0, le=1.0, allow_inf_nan=False)
    cost: float = Field(0.5, ge=0.0, le=1.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _not_both_zero(self) -> Objective:
        if self.compliance == 0.0 and self.cost == 0.0:
            raise ValueError("objective: compliance and cost weights cannot both be 0")
        return self


class SLAConstraint(_Strict):
    """A hard ceiling: ``metric`` of ``slice`` must stay at or below ``max`` (``unit``: % or ms)."""

    slice: Slice
    metric: Literal["loss", "latency_p99"]
    max: float = Field(gt=0.0, allow_inf_nan=False)
    unit: Literal["%", "ms"]

    @model_validator(mode="after")
    def _unit_matches(self) -> SLAConstraint:
        expected = "%" if self.metric == "loss" else "ms"
        if self.unit != expected:
            raise ValueError(f"constraints: {self.metric} is measured in {expected!r}, got {self.unit!r}")
        if self.metric == "loss" and self.max > 100.0:
            raise ValueError(f"constraints: a loss ceiling is a percentage <= 100, got {self.max}")
        return self


class Restriction(_Strict):
    """A floor and/or cap on the shares of ``slice`` (all slices when None) within a scope.

    ``scope`` ``cell``/``link`` take indices as ids ("3"), ``zone`` takes zone names
    (hospital, fwa, corridor), ``all`` takes none. Shares are fractions in [0, 1].
    """

    scope: Literal["cell", "zone", "link", "all"]
    ids: tuple[str, ...] = ()
    slice: Slice | None = None
    floor: float | None = Field(None, ge=0.0, le=1.0, allow_inf_nan=False)
    cap: float | None = Field(None, ge=0.0, le=1.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _has_bound(self) -> Restriction:
        if self.floor is None and self.cap is None:
            raise ValueError("restrictions: a restriction needs a floor or a cap")
        if self.scope == "all" and self.ids:
            raise ValueError("restrictions: scope 'all' takes no ids")
        if self.scope != "all" and not self.ids:
            raise ValueError(f"restrictions: scope {self.scope!r} needs ids")
        return self


class Window(_Strict):
    """Slow steps ``start..end`` (inclusive) the intent applies to."""

    start: int = Field(0, ge=0)
    end: int = Field(11, ge=0)


class Context(_Strict):
    event: Literal["none", "hotspot", "wave", "maintenance"] = "none"
    links_down: tuple[str, ...] = ()


class IntentSpec(_Strict):
    """The compiled form of an operator intent."""

    objective: Objective = Objective()
    constraints: tuple[SLAConstraint, ...] = ()
    restrictions: tuple[Restriction, ...] = ()
    window: Window | None = None
    context: Context = Context()


class Issue(_Strict):
    """Something to resolve before an intent can be planned: the field, what is wrong, a question."""

    field: str
    message: str
    question: str


def json_schema() -> dict[str, object]:
    """The JSON Schema of :class:`IntentSpec` (what model backends are constrained to emit)."""
    return IntentSpec.model_json_schema()


def check(spec: IntentSpec, scenario: Scenario) -> list[Issue]:
    """Semantic problems of a well-formed spec for ``scenario`` (empty: plannable)."""
    issues: list[Issue] = []
    n_cells, n_links = len(scenario.city.cell_xy), len(scenario.transport.links)
    zones = {z.name for z in scenario.city.zones}
    horizon = scenario.horizon
    for i, r in enumerate(spec.restrictions):
        where = f"restrictions[{i}]"
        valid = {
            "cell": {str(c) for c in range(n_cells)},
            "link": {str(k) for k in range(n_links)},
            "zone": zones,
            "all": set(),
        }[r.scope]
        unknown = [x for x in r.ids if x not in valid]
        if unknown:
            issues.append(
                Issue(
                    field=f"{where}.ids",
                    message=f"{r.scope} {', '.join(unknown)} does not exist "
                    f"(valid: {', '.join(sorted(valid, key=_natural))})",
                    question=f"Which {r.scope} did you mean?",
                )
            )
        if r.cap == 0.0:
            which = r.slice or "every slice"
            issues.append(
                Issue(
                    field=f"{where}.cap",
                    message=f"a cap of 0 starves {which}, which has an SLA ceiling in this scenario",
                    question=f"What minimum share should {which} keep?",
                )
            )
        if r.floor is not None and r.cap is not None and r.floor > r.cap:
            issues.append(
                Issue(
                    field=f"{where}.floor",
                    message=f"floor {r.floor:g} is above cap {r.cap:g}",
                    question="Should the floor or the cap change?",
                )
            )
    # Floors on one scope summing above 1 cannot all hold.
    floors: dict[tuple[str, tuple[str, ...]], float] = {}
    for r in spec.restrictions:
        if r.floor is not None:
            share = r.floor * (3 if r.slice is None else 1)
            floors[(r.scope, r.ids)] = floors.get((r.scope, r.ids), 0.0) + share
    for (scope, ids), total in floors.items():
        if total > 1.0 + 1e-9:
            issues.append(
                Issue(
                    field="restrictions",
                    message=f"share floors on {scope} {','.join(ids) or 'all'} sum to {total:g} > 1",
                    question="Which slice's floor should be lowered?",
                )
            )
    for i, c in enumerate(spec.constraints):
        where = f"constraints[{i}]"
        if c.metric == "latency_p99" and c.slice != "urllc":
            issues.append(
                Issue(
                    field=f"{where}.slice",
                    message=f"latency is measured for URLLC only, not {c.slice}",
                    question="Did you mean a URLLC latency ceiling or a loss ceiling?",
                )
            )
        if c.metric == "latency_p99" and c.max < MIN_LATENCY_MS:
            issues.append(
                Issue(
                    field=f"{where}.max",
                    message=f"{c.max:g} ms is below the {MIN_LATENCY_MS:g} ms latency floor: impossible",
                    question=f"Is a ceiling of at least {MIN_LATENCY_MS:g} ms acceptable?",
                )
            )
    seen: dict[tuple[str, str], float] = {}
    for i, c in enumerate(spec.constraints):
        key = (c.slice, c.metric)
        if key in seen and seen[key] != c.max:
            issues.append(
                Issue(
                    field=f"constraints[{i}].max",
                    message=f"two different ceilings for {c.slice} {c.metric}: {seen[key]:g} and {c.max:g}",
                    question="Which ceiling applies?",
                )
            )
        seen[key] = c.max
    if spec.window is not None and (spec.window.start > spec.window.end or spec.window.end >= horizon):
        issues.append(
            Issue(
                field="window",
                message=f"steps {spec.window.start}..{spec.window.end} are not a range within 0..{horizon - 1}",
                question=f"Which steps (0 to {horizon - 1}) should the intent cover?",
            )
        )
    unknown_links = [x for x in spec.context.links_down if x not in {str(k) for k in range(n_links)}]
    if unknown_links:
        issues.append(
            Issue(
                field="context.links_down",
                message=f"link {', '.join(unknown_links)} does not exist (valid: 0..{n_links - 1})",
                question="Which link is in maintenance?",
            )
        )
    return issues


def _natural(x: str) -> tuple[int, str]:
    return (int(x), "") if x.isdigit() else (1 << 30, x)


if __name__ == "__main__":
    print(json.dumps(json_schema(), indent=2))
