"""The embedded intent compiler: deterministic rules, no model download. Every result says so.

The text is first put in one spelling per meaning (:func:`canonical`: number words and fractions
as numbers, units as ``%``/``ms``/``s``, comparison symbols as words), then split into clauses (on
``;`` ``.`` ``,`` dashes, "while", "but"; a clause that only says where is joined to its
neighbour). Each clause's ceilings and share bounds are read quantity by quantity
(:mod:`twm_agents.llm.requirements`); the whole text gives

* the objective ("cut cost", "cheap", "cost reduction" -> cost weight 1; "ignore cost",
  "regardless of cost", "money is no object" -> 0; "balance" -> both 1);
* a time window ("for the next 6 steps", "steps 3 to 8") and context ("link 2 in maintenance",
  "commuter wave", "hotspot at the hospital");
* refusals that hold whatever compiles the text (:func:`guard_issues`): too long, letters outside
  the Latin alphabet, text addressed to the compiler, requests to waive the SLA (only a typed field
  of the episode may).

Whatever it cannot read becomes an issue with a clarifying question, never a guess.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from pydantic import ValidationError

from twm_agents.llm.requirements import City, links_down, read, slices_in, where_only
from twm_gym.core.params import Scenario
from twm_gym.intents.spec import Context, IntentSpec, Issue, Objective, Restriction, SLAConstraint, Window, check

BACKEND = "embedded"
NOTE = "compiled by the embedded rule-based backend (no language model)"


@dataclass
class Compilation:
    """The result of compiling an intent: a spec (None when there are issues) and what to ask."""

    spec: IntentSpec | None
    issues: list[Issue]
    backend: str = BACKEND
    rule_based: bool = True
    notes: list[str] = field(default_factory=lambda: [NOTE])

    @property
    def ok(self) -> bool:
        return self.spec is not None and not self.issues


def length_issues(text: str) -> list[Issue]:
    """An issue if ``text`` is longer than :data:`MAX_INTENT_CHARS` (every parse stays fast)."""
    if len(text) <= MAX_INTENT_CHARS:
        return []
    return [
        Issue(
            field="intent",
            message=f"the intent is {len(text)} characters, more than {MAX_INTENT_CHARS}",
            question="Can you state it in fewer words (one objective and its constraints)?",
        )
    ]


def normalize(text: str) -> str:
    """``text`` in compatibility form (NFKC: full-width digits, ligatures, non-breaking spaces) with
    invisible format characters (zero-width spaces and joiners, direction marks) removed."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")


_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_NUMBER_WORD = re.compile(
    rf"\b(?:({'|'.join(_TENS)})(?:[- ]({'|'.join(_UNITS)}))?|({'|'.join(_UNITS)}))\b"
    r"(?=\s*(?:%|percent|per cent|pct|ms|milliseconds?|seconds?|(?:slow )?steps?)\b)"
)
_SYMBOLS = (
    (r"≥|>=|=>", " at least "),
    (r"≤|<=|=<", " at most "),
    (r"(?<![<>=])>(?!=)", " more than "),
    (r"(?<![<>=])<(?!=)", " less than "),
    (r"&", " and "),
    (r"#\s*(?=\d)", ""),
    (r"per cent", "percent"),
)
_UNIT_SPELLINGS = (
    (r"(?<=\d)\s*(?:%|percent\b|per cent\b|pct\b|percentage points?\b)", "%"),
    (r"(?<=\d)\s*(?:milliseconds?|millisecs?|msecs?|ms)\b", " ms"),
    (r"(?<=\d)\s*(?:seconds?|secs?|s)\b", " s"),
)
_FRACTIONS = {"half": 50, "third": 100 / 3, "quarter": 25, "fifth": 20, "tenth": 10}
_FRACTION = re.compile(
    r"\b(?:(a|one|two|three)[- ])?(half|third|quarter|fifth|tenth)s?\b(?= of\b)"
    r"|\b(?:a |one )?half\b(?= (?:the|its|their)\b)"
)
_RANGE = re.compile(
    r"\bbetween (\d+(?:\.\d+)?)(?:%| ms| s)? and (\d+(?:\.\d+)?)(%| ms| s)(?![\w.])"
    r"|(?<!from )(?<!cell )(?<!cells )(?<!link )(?<!links )(?<!step )(?<!steps )(?<![\w.])"
    r"(\d+(?:\.\d+)?)(?:%| ms| s)?\s*(?:-|–|to)\s*(\d+(?:\.\d+)?)(%| ms| s)(?![\w.])"
)
"""A range of a quantity ("20-40%", "20 to 40 percent", "between 20 and 40%"): a bound at each end.
Not "from 40% to 30%", which says a change, nor "link 2 to 40%", an id then a bound."""
_ZERO = re.compile(r"\b(?:to|at) zero\b|\bzero(?= (?:share|percent|%|prbs?|capacity|bandwidth|resources)\b)")


def canonical(text: str) -> str:
    """Lower-case ``text`` with one spelling per meaning: number words before a unit as digits ("forty
    percent", "six steps"), comparison symbols as words ("≥ 40%" -> "at least 40%"), ``&`` as "and",
    "#3" as "3", runs of white space as one space."""
    t = normalize(text).lower()
    for pattern, word in _SYMBOLS:
        t = re.sub(pattern, word, t)

    def digits(m: re.Match[str]) -> str:
        if m.group(3):
            return str(_UNITS[m.group(3)])
        return str(_TENS[m.group(1)] + (_UNITS[m.group(2)] if m.group(2) else 0))

    t = _NUMBER_WORD.sub(digits, t)
    for pattern, word in _UNIT_SPELLINGS:
        t = re.sub(pattern, word, t)

    def fraction(m: re.Match[str]) -> str:
        count = {"a": 1, "one": 1, "two": 2, "three": 3, None: 1}[m.group(1)]
        return f"{count * _FRACTIONS[m.group(2) or 'half']:.6g}%"

    t = _FRACTION.sub(fraction, t)

    def bounds(m: re.Match[str]) -> str:
        lo, hi, unit = m.group(1, 2, 3) if m.group(1) else m.group(4, 5, 6)
        return f"at least {lo}{unit} and at most {hi}{unit}"

    t = _RANGE.sub(bounds, t)
    t = _ZERO.sub(lambda m: m.group(0).replace("zero", "0%"), t)
    return re.sub(r"\s+", " ", t).strip()


_ROLE_MARKER = re.compile(
    r"(?:^|[\s\n])(?:system|assistant|developer|user)\s*:|<\|[a-z_]+\|>|\[/?inst\]|###\s*(?:system|instruction)"
)
_OVERRIDE = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\b[^.;]{0,40}?\b(?:instructions?|prompts?|rules|policy|policies)\b"
    r"|\b(?:guardrails?|safety|checks?)\s+(?:are\s+|is\s+)?(?:disabled|off|removed|waived|suspended)\b"
)


def guard_issues(text: str) -> list[Issue]:
    """Refusals that hold whatever compiles the text (rules or a model), each for a class of input:
    too long, letters outside the Latin alphabet (look-alikes such as a Cyrillic "С" in "URLLС"),
    text addressed to a model rather than the network (role markers, instructions to ignore
    instructions), and requests to waive the SLA (which only a typed field of the episode may do)."""
    too_long = length_issues(text)
    if too_long:
        return too_long
    t = normalize(text)
    foreign = sorted({w for w in re.findall(r"\w+", t) if any(ch.isalpha() and not ch.isascii() for ch in w)})
    if foreign:
        return [
            Issue(
                field="intent",
                message=f"words with letters outside the Latin alphabet: {', '.join(foreign[:5])} "
                "(a look-alike letter can change what a word means)",
                question="Can you restate the intent in plain Latin letters?",
            )
        ]
    low = t.lower()
    if _ROLE_MARKER.search(low) or _OVERRIDE.search(low):
        return [
            Issue(
                field="intent",
                message="the text addresses the compiler (a role marker or an instruction to ignore instructions "
                "or checks), not the network",
                question="What should the network achieve?",
            )
        ]
    return waiver_issues(low)


_NEGATED_ACTION = re.compile(
    r"\b(?:do not|don't|dont|never|no longer|not|stop)\s+(?:\w+\s+){0,2}?"
    r"(?:reserve|guarantee|cap|limit|protect|prioriti[sz]e|restrict|allocate|set|keep|give|favou?r)\b"
)
_COMPARISON = re.compile(r"more|less|fewer|above|below|over|under|exceed|higher|lower|pass|beyond|drop")


def compile_intent(text: str, scenario: Scenario) -> Compilation:
    """Compile ``text`` for ``scenario`` with the rules above."""
    refused = guard_issues(text)
    if refused:
        return Compilation(None, refused)
    t = " " + canonical(text) + " "
    city = City.of(scenario)
    issues: list[Issue] = []
    notes = [NOTE]
    constraints: list[SLAConstraint] = []
    restrictions: list[Restriction] = []
    for clause in _clauses(t, city.zones):
        if _NEGATED_ACTION.search(clause) and not _COMPARISON.search(clause):
            issues.append(
                Issue(
                    field="intent",
                    message=f"a negated instruction ({clause.strip()!r}) says what not to do; no spec field holds that",
                    question="What should be done instead (a floor, a cap or a ceiling)?",
                )
            )
            continue
        try:
            reading = read(clause, city)
        except ValidationError as exc:  # a number out of range (a 400-digit ceiling is inf): ask, never crash
            first = exc.errors()[0]
            where = "constraints" if exc.title == "SLAConstraint" else "restrictions"
            what = ".".join(str(x) for x in first["loc"])
            issues.append(Issue(field=where, message=f"{what}: {first['msg']}", question="Can you restate the number?"))
            continue
        for scope in reading.scoped_ceilings:
            if scope in ("cell", "link"):
                issues.append(
                    Issue(
                        field="constraints",
                        message="SLA ceilings apply to a whole slice; a ceiling on cells or links is not supported",
                        question="Should the ceiling apply to the whole slice, or did you mean a share floor there?",
                    )
                )
            else:
                notes.append(f"a ceiling said for zone {scope} applies to the whole slice (stricter than asked)")
        constraints += reading.constraints
        restrictions += reading.restrictions
        for part in reading.unread:
            issues.append(
                Issue(
                    field="intent",
                    message=f"part of the intent was not understood: {part!r}",
                    question="Can you restate it (a slice, a bound, a unit: 'URLLC latency below 10 ms')?",
                )
            )
        said = reading.constraints or reading.restrictions or reading.unread
        if not said and slices_in(clause):
            issues.append(
                Issue(
                    field="intent",
                    message=f"a slice is named with no bound on it: {clause.strip()!r}",
                    question="What should hold for it (a floor, a cap or a ceiling, with a number)?",
                )
            )
    restrictions, contradictions = _merged(restrictions)
    issues += contradictions
    odd = [w for w in _MIXED.findall(t) if not _KNOWN_MIXED.fullmatch(w)]
    if odd:
        issues.append(
            Issue(
                field="intent",
                message=f"words of letters and digits not understood: {', '.join(dict.fromkeys(odd[:5]))}",
                question="Which cell, link or quantity is meant (e.g. 'cell 3', '40%', '10 ms')?",
            )
        )
    other = [p for p in _PERCENTILE.findall(t) if float(p[0] or p[1]) != 99.0]
    if other:
        issues.append(
            Issue(
                field="constraints",
                message=f"latency is measured as its 99th percentile only, not the {other[0][0] or other[0][1]}th",
                question="Is a ceiling on the 99th-percentile latency what you mean?",
            )
        )
    issues += objective_issues(t)
    negative = re.search(r"(?<![\w.])-\s*\d+(?:\.\d+)?", t)
    if negative:
        issues.append(
            Issue(
                field="intent",
                message=f"a negative number ({negative.group(0).strip()}): ids, shares and ceilings are never negative",
                question="Which value did you mean?",
            )
        )
    objective = _objective(t)
    try:
        window = _window(t, scenario.horizon)
    except ValidationError:  # "before step 0", "the next 0 steps"
        window = None
        issues.append(
            Issue(
                field="window",
                message="the steps named make an empty window",
                question=f"Which steps (0 to {scenario.horizon - 1}) should the intent cover?",
            )
        )
    else:
        if window is None and re.search(r"\bsteps?\s*#?\d|\d+ (?:slow )?steps?\b", t):
            issues.append(
                Issue(
                    field="window",
                    message="steps are named but no window was read from them",
                    question=f"Which steps (0 to {scenario.horizon - 1}) should the intent cover?",
                )
            )
    context = _context(t)
    nothing = not (constraints or restrictions or window or context.event != "none" or objective != Objective())
    if nothing and not issues:
        issues.append(
            Issue(
                field="intent",
                message="no objective, SLA ceiling, share restriction, window or event was recognized",
                question="What should the network achieve (e.g. 'keep URLLC latency below 10 ms while cutting cost')?",
            )
        )
    try:
        spec = IntentSpec(
            objective=objective,
            constraints=tuple(constraints),
            restrictions=tuple(restrictions),
            window=window,
            context=context,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "intent"
        return Compilation(None, [*issues, Issue(field=where, message=first["msg"], question="Can you restate it?")])
    issues += check(spec, scenario)
    return Compilation(spec if not issues else None, issues, notes=notes)


MAX_INTENT_CHARS = 2_000
"""The longest intent compiled: an operator's intent is a few sentences, and every rule then runs
in well under 100 ms."""
_GUARDED = r"(?:slas?|constraints?|guardrails?|ceilings?|safety)"
_WAIVER = re.compile(
    r"(?:ignore|disable|drop|waive|forget|bypass|override|suspend|turn off|switch off|remove|lift|relax)\s+"
    rf"(?:(?:the|all|any|every|our|its|their|urllc|embb|fwa|slice'?s?)\s+){{0,3}}{_GUARDED}"
    rf"|\b{_GUARDED}\s+(?:are\s+|is\s+)?(?:disabled|off|removed|waived|suspended|lifted)\b"
    rf"|\b(?:turn|switch|shut|take)\s+(?:(?:the|all|any|every|our|its|their|urllc|embb|fwa)\s+){{0,3}}{_GUARDED}\s+(?:off|down|out)\b"
)


def waiver_issues(text: str) -> list[Issue]:
    """An issue if ``text`` asks to waive the SLA (checked on every intent, whatever the backend)."""
    if _WAIVER.search(text.lower()):
        return [
            Issue(
                field="constraints",
                message="the intent asks to waive the SLA; hard SLA ceilings are not negotiable",
                question="Which objective should change instead (for example, favour cost within the SLA)?",
            )
        ]
    return []


_PERCENTILE = re.compile(r"\bp(\d+(?:\.\d+)?)\b|\b(\d+(?:\.\d+)?)(?:st|nd|rd|th)?[ -]?percentile")
_MIXED = re.compile(r"\b(?=[a-z]*\d)(?=\d*[a-z])[a-z\d]+\b")
_KNOWN_MIXED = re.compile(r"p\d{2}(?:\.\d+)?|\d+(?:st|nd|rd|th)|\d+g|3gpp|(?:cells?|links?|zone|steps?)\d+")
"""Words of letters and digits the rules know: percentiles ("p99"), ordinals, "5g", ids glued to their
kind ("cell3"). Any other ("c3", "l2") is asked about, never dropped."""


def _clauses(t: str, zones: tuple[str, ...]) -> list[str]:
    """Clauses of ``t``; a clause that only says where ("on link 2", "along the corridor,", "fwa
    zone") is joined to the next, which says what (to the one before when it comes last)."""
    parts = [p.strip() for p in re.split(r";|(?<!\d)\.|\.(?!\d)|,(?! ?\d)| while | but | whilst | [-—–]+ |[—–]", t)]
    out: list[str] = []
    carry = ""
    for part in filter(None, parts):
        if where_only(part, zones):
            carry += part + " "
            continue
        out.append(" " + carry + part + " ")
        carry = ""
    if carry:
        if out:
            out[-1] += carry
        else:
            out.append(" " + carry)
    return out


def mentioned_slices(text: str) -> list[str]:
    """The slices ``text`` names (by the rules' slice words), in order of first mention."""
    return list(dict.fromkeys(s for _, _, s in slices_in(canonical(text))))


def _merged(restrictions: list[Restriction]) -> tuple[list[Restriction], list[Issue]]:
    """One restriction per (scope, ids, slice): a floor and a cap said apart ("at least 30% ...; at most
    50% ...") join, so that :func:`check` sees a floor above its cap; two different floors (or caps)
    for the same place and slice are a contradiction."""
    out: dict[tuple[str, tuple[str, ...], str | None], Restriction] = {}
    issues: list[Issue] = []
    for r in restrictions:
        key = (r.scope, r.ids, r.slice)
        if key not in out:
            out[key] = r
            continue
        old = out[key]
        joined = {}
        for bound in ("floor", "cap"):
            mine, theirs = getattr(r, bound), getattr(old, bound)
            if mine is not None and theirs is not None and mine != theirs:
                where = f"{r.scope} {','.join(r.ids) or 'all'}"
                issues.append(
                    Issue(
                        field="restrictions",
                        message=f"two different {bound}s for {r.slice or 'every slice'} on {where}: "
                        f"{theirs:g} and {mine:g}",
                        question=f"Which {bound} applies?",
                    )
                )
            joined[bound] = theirs if theirs is not None else mine
        out[key] = old.model_copy(update=joined)
    return list(out.values()), issues


_COST = r"(?:costs?|spend(?:ing)?|expenses?|expenditures?|money|opex|resources)"
"""Nouns of what the cost objective counts."""
_NO_COST = re.compile(
    rf"(?:ignore|disregard|regardless of|no matter|never mind|(?:do not|don't|dont) care about"
    rf"|(?:do not|don't|dont|never) (?:worry|mind) about) (?:the |what it |what they |our )?{_COST}"
    rf"|{_COST} (?:is |are )?(?:no|not an?|not our|of no) (?:concern|issue|object|importance|matter|priority)"
    rf"|{_COST} (?:does not|doesn't|do not|don't) matter|{_COST} (?:is |are )?(?:irrelevant|unimportant)"
    r"|spend whatever|whatever (?:is needed|it takes|it costs|the cost)|at any cost"
)
_SAVE = re.compile(
    rf"(?:cut|save|saving|reduc|lower|minimi[sz]|trim|limit|economi[sz])\w*\s+(?:[a-z]+\s+){{0,3}}?{_COST}"
    rf"|{_COST} (?:reduction|savings?|cuts?|cutting|efficien\w*)|cost[- ]efficien\w*|cheap\w*|economi[sz]\w*"
    r"|spend(?:ing)? (?:less|as little)|less spending|(?:tight|limited|small) budget|budget is (?:tight|limited|small)"
)
"""Asking to spend less: a saving verb a few words before what is spent ("cut costs", "minimize the
operating cost", "save as much money"), a saving noun after it ("cost reduction"), "cheap"."""


def objective_issues(t: str) -> list[Issue]:
    """An issue when ``t`` asks both to save cost and to disregard it."""
    if _NO_COST.search(t) and _SAVE.search(_NO_COST.sub(" ", t)):
        return [
            Issue(
                field="objective",
                message="the intent asks both to save cost and to disregard cost",
                question="Should cost count (cost priority) or not (compliance priority)?",
            )
        ]
    return []


def _objective(t: str) -> Objective:
    if _NO_COST.search(t):
        return Objective(compliance=1.0, cost=0.0)
    if re.search(r"balance", t) and re.search(r"cost", t):
        return Objective(compliance=1.0, cost=1.0)
    if _SAVE.search(t):
        return Objective(compliance=1.0, cost=1.0)
    return Objective()


def _window(t: str, horizon: int) -> Window | None:
    """The slow steps ``t`` names, within an episode of ``horizon`` steps: "the next 6 steps", "steps
    3 to 8", "until step 5", "from step 6 on", "after step 6" (from step 7), "at step 5"."""
    m = re.search(r"(?:next|first|for|during|over) (\d+) (?:slow )?steps", t)
    if m:
        return Window(start=0, end=int(m.group(1)) - 1)
    m = re.search(r"(?:steps?|from step) (\d+) ?(?:to|-|through|until|and) ?(?:step )?(\d+)", t)
    if m:
        return Window(start=int(m.group(1)), end=int(m.group(2)))
    m = re.search(r"(?:until|till|up to|through|to the end of|before|by) step (\d+)", t)
    if m:
        return Window(start=0, end=int(m.group(1)) - (m.group(0).startswith("before")))
    m = re.search(r"(?:after|from|starting(?: at| from)?|beginning(?: at)?|since) step (\d+)", t)
    if m:
        start = int(m.group(1)) + m.group(0).startswith("after")
        return Window(start=start, end=max(horizon - 1, start))
    m = re.search(r"(?:at|on|in|during) step (\d+)", t)
    if m:
        return Window(start=int(m.group(1)), end=int(m.group(1)))
    return None


def event_of(text: str) -> str:
    """The event the text's words name, by the rules' vocabulary (``"none"`` if none)."""
    return _context(" " + canonical(text) + " ").event


def _context(t: str) -> Context:
    down = tuple(dict.fromkeys(x for _, _, ids in links_down(t) for x in ids))
    if down:
        return Context(event="maintenance", links_down=down)
    if re.search(r"maintenance", t):
        return Context(event="maintenance")
    if re.search(r"\bwave\b|rush hour|commut\w* (?:peak|rush)", t):
        return Context(event="wave")
    if re.search(r"hotspot|surge|concert|crowd|stadium|emergency", t):
        return Context(event="hotspot")
    return Context()
