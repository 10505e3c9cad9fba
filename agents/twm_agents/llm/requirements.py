"""SLA ceilings and share bounds in one clause of an intent, read quantity by quantity.

A clause (already in :func:`~twm_agents.llm.embedded.canonical` form: lower case, units spelled
``%``, ``ms`` and ``s``) is read in four steps:

1. **Mentions.** Slices by their longest name ("home broadband" is FWA, never also broadband),
   places (cell and link id lists, the scenario's zones, "everywhere"), time windows and links
   in maintenance (whose numbers are not quantities).
2. **Quantities.** Every other number: ``40%``, ``12 ms``, ``0.02 s``, a bare ``0.35``.
3. **Segments.** Each quantity owns the words around it up to the conjunction (``and``, ``,``,
   ``but``, ``plus``) or the bound phrase that starts the next quantity's part, so "guarantee
   URLLC 30% on cell 2 and cap video at 40%" gives URLLC the floor and video the cap.
4. **Binding.** In its segment a quantity takes the nearest bound before it ("at least", "no
   more than", "below", "capped at", with a negation flipping "below"/"above": "never drop below"
   is a floor, "must not exceed" a cap), else a bound after it ("30% or more", "a 35% floor"),
   else the segment's verb ("reserve", "give" -> floor; "cap", "limit", "throttle" -> cap). A
   unit of time or a latency word makes an SLA latency ceiling; a loss word a loss ceiling;
   otherwise the quantity is a share of PRBs. The segment's slices are bound (a segment naming
   none takes the nearest named in its clause); its place, or the clause's, scopes a share.

A quantity that cannot be bound (no bound, a floor on latency, a latency without a unit) is
returned as an unread part, never guessed.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from twm_gym.core.params import Scenario
from twm_gym.intents.spec import SLICE_NAMES, Restriction, SLAConstraint

_ALIASES = {
    "fwa": (
        "fixed wireless access",
        "fixed-wireless access",
        "fixed wireless",
        "fixed-wireless",
        "home internet",
        "home broadband",
        "fwa(?! (?:zone|area|district|sites?|cells?)\\b)",
    ),
    "embb": ("enhanced mobile broadband", "mobile broadband", "broadband", "e-mbb", "embb", "video", "streaming"),
    "urllc": (
        "ultra-reliable low-latency",
        "ultra reliable low latency",
        "low-latency",
        "low latency",
        "mission-critical",
        "mission critical",
        "critical",
        "medical",
        "hospital traffic",
        "urllc",
    ),
}
_SLICE_OF = {w.split("(")[0]: name for name, words in _ALIASES.items() for w in words}
SLICE_MENTION = re.compile(
    r"\b(?:" + "|".join(sorted((w for ws in _ALIASES.values() for w in ws), key=len, reverse=True)) + r")\b"
)
"""Any slice name; alternatives longest first, so a match is the longest name at its place."""


def slices_in(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, slice)`` of every slice named in ``text``, left to right, names not overlapping."""
    return [(m.start(), m.end(), _SLICE_OF[m.group(0)]) for m in SLICE_MENTION.finditer(text)]


_THROUGH = r"\s*(?:-|–|to|through|thru)\s*"
_ID = rf"\d+(?!\d)(?:{_THROUGH}\d+(?![\d%]|\.\d))?"
_ID_LIST = rf"{_ID}(?:\s*(?:,|and|or|&)\s*(?:(?:at|on|in) )?(?:(?:cell|link)s?\s*)?{_ID})*"
"""Ids and id ranges ("3-5", "3 to 5") joined by separators; each separator needs a number after it,
so a list has one parse."""
MAX_RANGE = 1_000
"""The longest id range spelled out; a longer one keeps its two ends (and the spec check names them)."""


def ids_of(text: str) -> tuple[str, ...]:
    """The ids of an id list, ranges spelled out: "3-5 and 8" -> 3, 4, 5, 8."""
    out: list[str] = []
    for m in re.finditer(rf"(\d+)(?:{_THROUGH}(\d+))?", text):
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        out += [str(i) for i in range(lo, hi + 1)] if 0 <= hi - lo <= MAX_RANGE else [m.group(1), m.group(2)]
    return tuple(dict.fromkeys(out))


IDS = re.compile(rf"\b(cell|link)s?\s*#?[_-]?({_ID_LIST})(?!\s*(?:%|ms\b|s\b|\.\d))")
_DOWN_AFTER = re.compile(
    r"(?:\s+(?:is|are|was|were|will|be|been|being|goes|go|went|gets|get|taken|currently|now|scheduled|planned"
    r"|for|in|under)){0,4}\s+(?:down|offline|failed|failing|fails|fail|maintenance|out of service|outage)\b"
)
_DOWN_BEFORE = re.compile(r"(?:maintenance|outage|failure)(?: window)? (?:on|of|for|at) (?:the )?$")


def links_down(text: str) -> list[tuple[int, int, tuple[str, ...]]]:
    """``(start, end, ids)`` of every link id list ``text`` says is down or in maintenance ("link 4 is
    down", "links 3-5 out of service", "maintenance on links 1 and 2"): an event, not a place."""
    out = []
    for m in IDS.finditer(text):
        if m.group(1) == "link" and (_DOWN_AFTER.match(text, m.end()) or _DOWN_BEFORE.search(text, 0, m.start())):
            out.append((m.start(), m.end(), ids_of(m.group(2))))
    return out


_STEPS = re.compile(
    r"\d+ (?:slow )?steps?\b"
    r"|(?:steps?|from step|between step) \d+ ?(?:to|-|through|until|till|and) ?(?:step )?\d+"
    r"|(?:until|till|up to|through|to the end of|by|before|after) step \d+"
    r"|\bsteps? \d+\b"
)
_ALL = re.compile(r"\b(?:everywhere|anywhere|network[- ]wide|(?:every|each|all|any) (?:cells?|sites?|links?))\b")
_EXCEPT = re.compile(r"\b(?:except|excluding|other than|apart from|but not|save for)(?: for| in| on| at)?(?: the)?\s*$")
_EVERY_SLICE = re.compile(r"\b(?:all|every|each|any) slices?\b|\b(?:anyone|everyone|everybody|all traffic)\b")
_ZONE_WORD = re.compile(r"\bzone\s+(\d+)|\b([a-z]+)(?=\s+(?:zone|area|district)\b)")
_NOT_A_NAME = frozenset(
    "the this that each every any a whole same entire one its their of in on at to for and or is are fwa".split()
)

QUANTITY = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?:\s*(%|ms\b|s\b)|(?![\w.]))")

# Bound phrases, longest first within a class. "up"/"down" words name a direction that a
# negation flips ("below 5 ms" is a ceiling, "never drop below 40%" a floor).
_BOUNDS: tuple[tuple[str, str], ...] = (
    ("floor", r"at least|at or above|no less than|not less than|no fewer than|not fewer than|no lower than"
     r"|not lower than|minimum(?: of)?|min\.?|(?:a )?floor(?: of)?|or more|or above|or higher"),
    ("cap", r"at most|at or below|no more than|not more than|no higher than|not higher than|maximum(?: of)?"
     r"|max\.?|up to|within|capped (?:at|to)|limited to|restricted to|throttled to|ceiling(?: of)?"
     r"|or less|or below|or lower"),
    ("up", r"more than|greater than|higher than|in excess of|above|over|exceed(?:s|ed|ing)?|surpass(?:es)?"
     r"|pass(?:es)?|beyond"),
    ("down", r"less than|fewer than|lower than|below|under|beneath"),
)  # fmt: skip
_BOUND = re.compile("|".join(rf"\b(?P<{kind}>{words})(?![\w])" for kind, words in _BOUNDS))
_POST = re.compile(
    r"\s*(?:[a-z-]+\s+){0,2}?(?:(?P<floor>or more|or above|or higher|minimum|min|floor)"
    r"|(?P<cap>or less|or below|or lower|maximum|max|cap|ceiling))\b"
)
_VERBS = re.compile(
    r"\b(?P<cap>cap(?:s|ped|ping)?|limit(?:s|ed|ing)?|restrict(?:s|ed|ing)?|throttl(?:e|es|ed|ing)"
    r"|constrain(?:s|ed)?|cut|reduce|lower)\b"
    r"|\b(?P<set>set|fix|pin)\b"
    r"|\b(?P<floor>reserve[sd]?|guarantee[sd]?|give[sn]?|allocate[sd]?|assign(?:s|ed)?|dedicate[sd]?|keep[s]?|ensure"
    r"|protect(?:s|ed)?|need[s]?|require[sd]?|get[s]?|have|has|put)\b"
)
_NEGATION = re.compile(r"\b(?:not|never|no longer)\b|n't\b|\bdont\b|\bdoesnt\b")
_CONJUNCTION = re.compile(r",|;| and | but | while | whilst | plus | as well as | also ")
_LATENCY = re.compile(r"latency|latencies|delay|p99|99th|response times?|round[- ]trip")
_LOSS = re.compile(r"\bloss(?:es)?\b|\bdrops?\b|\bdropped\b|\blost\b|\blose\b|\blosing\b|error rate|\bdiscard")
_FALL = re.compile(r"(?:never|not|n't)\s+(?:\w+\s+)?(?:drop|fall|go|dip|sink)\w*\s+(?:below|under|beneath)\b")
"""A floor said as a negated fall ("should never drop below 40%"): a share, not a loss."""


@dataclass(frozen=True)
class City:
    """What a place in an intent can name: the scenario's zone names and how many cells and links it has."""

    zones: tuple[str, ...]
    cells: int
    links: int

    @classmethod
    def of(cls, scenario: Scenario) -> City:
        return cls(
            tuple(z.name for z in scenario.city.zones), len(scenario.city.cell_xy), len(scenario.transport.links)
        )


@dataclass
class Place:
    """Where a share bound applies: ``scope`` and ``ids`` as in :class:`Restriction`."""

    scope: str = "all"
    ids: tuple[str, ...] = ()
    excluded: bool = False
    """Named after "except", "excluding", "other than": a place taken out of the rest."""


@dataclass
class Reading:
    """What one clause bounds, and what of it could not be read."""

    constraints: list[SLAConstraint] = field(default_factory=list)
    restrictions: list[Restriction] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)
    scoped_ceilings: list[str] = field(default_factory=list)
    """Ceilings said for part of the city: ``"cell"``/``"link"`` (unsupported) or a zone name."""


def _masked(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for a, b in spans:
        chars[a:b] = " " * (b - a)
    return "".join(chars)


def places(clause: str, zones: tuple[str, ...]) -> list[tuple[int, int, Place]]:
    """Every place ``clause`` names for a share bound, with its span: id lists of cells or links (a
    link said to be down or in maintenance is an event, not a place), the scenario's ``zones`` and
    any other "NAME zone" (kept by name, so that the spec check reports it), "everywhere"."""
    out: list[tuple[int, int, Place]] = []
    down = {a for a, _, _ in links_down(clause)}
    for m in IDS.finditer(clause):
        if m.start() in down:
            continue
        out.append((m.start(), m.end(), Place(m.group(1), ids_of(m.group(2)))))
    taken = [(a, b) for a, b, _ in out] + [(a, b) for a, b, _ in slices_in(clause)]  # "fwa loss": a slice
    for zone in zones:
        for m in re.finditer(rf"\b{re.escape(zone.lower())}\b(?! traffic)", clause):
            if not any(a <= m.start() < b for a, b in taken):
                out.append((m.start(), m.end(), Place("zone", (zone,))))
    known = {z.lower() for z in zones}
    for m in _ZONE_WORD.finditer(clause):
        name = m.group(1) or m.group(2)
        if name not in _NOT_A_NAME and name not in known and name not in _SLICE_OF:
            out.append((m.start(), m.end(), Place("zone", (name,))))
    for m in _ALL.finditer(clause):
        out.append((m.start(), m.end(), Place("all", ())))
    for i, (a, b, p) in enumerate(out):
        if _EXCEPT.search(clause, max(0, a - 24), a):
            out[i] = (a, b, Place(p.scope, p.ids, excluded=True))
    return sorted(out, key=lambda x: x[0])


def where_only(clause: str, zones: tuple[str, ...]) -> bool:
    """Whether ``clause`` only says where ("along the corridor", "on cells 3 and 7", "fwa zone")."""
    found = places(clause, zones)
    if not found or _STEPS.search(clause):
        return False
    rest = _masked(clause, [(a, b) for a, b, _ in found])
    return re.fullmatch(r"[\s:()\-—–]*(?:(?:on|in|at|for|along|around|across|the|of|cells?|sites?|zone|area|"
                        r"district|links?|within)[\s:()\-—–]+)*", rest + " ") is not None  # fmt: skip


def _places_of(found: list[tuple[int, int, Place]], city: City) -> list[Place] | None:
    """The places a part of a clause names, one per scope: specific ones over "everywhere"/"each
    cell" ("in the corridor, at most 45% of each cell" is the corridor's cells); ids of one scope
    merge; cells or links named after "except" are taken out of the others (all of the city's when
    no other is named). None when an exception cannot be spelled as ids (a zone, a mix of kinds)."""
    specific = [p for _, _, p in found if p.scope != "all" and not p.excluded]
    excluded = [p for _, _, p in found if p.excluded]
    if excluded:
        kinds = {p.scope for p in excluded} | {p.scope for p in specific}
        if len(kinds) != 1 or kinds & {"zone", "all"}:
            return None
        (kind,) = kinds
        gone = {x for p in excluded for x in p.ids}
        base = [x for p in specific for x in p.ids] or [
            str(i) for i in range(city.cells if kind == "cell" else city.links)
        ]
        return [Place(kind, tuple(x for x in dict.fromkeys(base) if x not in gone))]
    if not specific:
        return [Place("all", ())]
    scopes = dict.fromkeys(p.scope for p in specific)
    return [Place(sc, tuple(dict.fromkeys(x for p in specific if p.scope == sc for x in p.ids))) for sc in scopes]


def _direction(segment: str, q_start: int, q_end: int) -> str | None:
    """``floor``, ``cap``, ``set`` or None: the bound on the quantity at ``q_start:q_end`` of ``segment``."""
    before = list(_BOUND.finditer(segment, 0, q_start))
    if before:
        m = before[-1]
        kind = m.lastgroup or ""
        if kind in ("up", "down"):  # a negation since the bound before flips it
            since = before[-2].end() if len(before) > 1 else 0
            negated = _NEGATION.search(segment, max(since, m.start() - 48), m.start()) is not None
            return "floor" if (kind == "up") != negated else "cap"
        return kind
    post = _POST.match(segment, q_end)
    if post:
        return post.lastgroup
    verbs = list(_VERBS.finditer(segment, 0, q_start)) or list(_VERBS.finditer(segment, q_end))
    if verbs:
        return verbs[-1].lastgroup if verbs[-1].start() < q_start else verbs[0].lastgroup
    return None


def read(clause: str, city: City) -> Reading:
    """The ceilings and share bounds of ``clause`` (canonical form) in ``city``."""
    out = Reading()
    skip = [m.span() for m in _STEPS.finditer(clause)]
    found_places = places(clause, city.zones)
    skip += [(a, b) for a, b, p in found_places]
    skip += [m.span() for m in IDS.finditer(clause)]  # links in maintenance: ids, not quantities
    plain = _masked(clause, skip)
    quantities = list(QUANTITY.finditer(plain))
    if not quantities:
        return out
    named = slices_in(clause)
    # Segment boundaries: the last conjunction between two quantities (outside id lists), else the
    # start of the bound phrase nearest the second, else the end of the first.
    cuts = [0]
    for left, right in itertools.pairwise(quantities):
        gap = plain[left.end() : right.start()]
        joins = list(_CONJUNCTION.finditer(gap))
        if joins:
            cuts.append(left.end() + joins[-1].start())
            continue
        bounds = list(_BOUND.finditer(gap)) + list(_VERBS.finditer(gap))
        cuts.append(left.end() + (min(b.start() for b in bounds) if bounds else 0))
    cuts.append(len(clause))
    clause_places = _places_of(found_places, city)
    previous: str | None = None
    for q, a, b in zip(quantities, cuts, cuts[1:], strict=False):
        segment, local = plain[a:b], clause[a:b]
        value, unit = float(q.group(1)), q.group(2)
        slices = list(dict.fromkeys(s for x, _, s in named if a <= x < b))
        every = not slices and _EVERY_SLICE.search(segment) is not None  # "no more than 5% loss for anyone"
        if not slices and not every:  # the nearest slice named before the segment, else after it
            slices = [s for x, _, s in named if x < a][-1:] or [s for x, _, s in named if x >= b][:1]
        words = _masked(local, [(x - a, y - a) for x, y, _ in named if a <= x < b])  # "low-latency" names a slice
        direction = _direction(segment, q.start() - a, q.end() - a) or previous  # "give URLLC 60% and eMBB 50%"
        previous = direction
        here = [f for f in found_places if a <= f[0] < b]
        where = _places_of(here, city) if here else clause_places
        if where is None:
            out.unread.append(local.strip())  # an exception said of a zone: no ids spell it
            continue
        loss = unit != "ms" and unit != "s" and _LOSS.search(_FALL.sub(" ", words)) is not None
        latency = unit in ("ms", "s") or (not loss and _LATENCY.search(words) is not None)
        if latency or loss:
            if (
                direction not in ("cap", "set")
                or (latency and unit not in ("ms", "s"))
                or (loss and not (slices or every))
            ):
                out.unread.append(local.strip())  # a floor on latency or loss, a latency with no unit, loss of what
                continue
            if latency:
                ms = value * 1000.0 if unit == "s" else value
                out.constraints += [
                    SLAConstraint(slice=s, metric="latency_p99", max=ms, unit="ms") for s in slices or ["urllc"]
                ]  # type: ignore[arg-type]
            else:
                pct = value if unit == "%" or value > 1.0 else value * 100.0
                out.constraints += [
                    SLAConstraint(slice=s, metric="loss", max=pct, unit="%") for s in slices or SLICE_NAMES
                ]  # type: ignore[arg-type]
            out.scoped_ceilings += [
                ",".join(p.ids) if p.scope == "zone" else p.scope for p in where if p.scope != "all"
            ]
            continue
        if direction is None or unit in ("ms", "s"):
            out.unread.append(local.strip())
            continue
        share = value / 100.0 if unit == "%" or value > 1.0 else value
        floor, cap = {"floor": (share, None), "cap": (None, share), "set": (share, share)}[direction]
        if share == 0.0:
            floor, cap = None, 0.0  # "give eMBB 0%", "set it to 0": a cap of zero
        targets: list[str | None] = [*slices] if slices else [None]  # no slice named: every slice
        out.restrictions += [
            Restriction(scope=p.scope, ids=p.ids, slice=s, floor=floor, cap=cap)  # type: ignore[arg-type]
            for p in where
            for s in targets
        ]
    return out
