"""The embedded intent compiler: deterministic rules, no model download. Every result says so.

It reads an operator intent clause by clause (clauses split on ``;`` ``.`` ``,`` and "while",
"but"), recognizing:

* slices by name or paraphrase (eMBB / mobile broadband / video; URLLC / low-latency /
  critical / hospital traffic; FWA / fixed wireless / home internet);
* SLA ceilings: a slice, a metric (latency / delay / p99 -> URLLC 99th-percentile latency;
  loss / drops -> loss) and a bound ("below", "under", "at most", "no more than", "<=", "not
  exceed", "never above") with units (ms, s, %, percent; a bare loss below 1 is a fraction);
* share floors and caps ("at least 20 % URLLC in the hospital cells", "cap eMBB at 50 % on link
  3", "set URLLC to zero") on cells, links, zones or everywhere;
* objective emphasis ("cut cost", "cheap" -> cost weight 1; "ignore cost", "regardless of cost" ->
  0; "balance" -> both 1);
* time windows ("for the next 6 steps", "steps 3 to 8") and context ("link 2 in maintenance",
  "commuter wave", "hotspot at the hospital");
* attempts to waive the SLA ("ignore the SLA", "disable the SLA") as an issue: hard SLAs are not
  negotiable.

Whatever it cannot read becomes an issue with a clarifying question, never a guess.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from pydantic import ValidationError

from twm_gym.core.params import Scenario
from twm_gym.intents.spec import Context, IntentSpec, Issue, Objective, Restriction, SLAConstraint, Window, check

BACKEND = "embedded"
NOTE = "compiled by the embedded rule-based backend (no language model)"

_SLICE_WORDS = {
    "embb": r"e-?mbb|mobile broadband|broadband|video|streaming",
    "urllc": r"urllc|low[- ]latency|mission[- ]critical|critical|hospital traffic|medical",
    "fwa": r"fwa(?! (?:zone|area|district|sites?))|fixed[- ]wireless|home internet|home broadband",
}
_NUM = r"(\d+(?:\.\d+)?)"
_CEILING = (
    r"(?:below|under|at most|no more than|not more than|less than|lower than|(?:no|not) higher than|within|<=|<|"
    r"max(?:imum)?(?: of)?|"
    r"(?:must|should|may|to|will)?\s*(?:not|never|n't)\s+"
    r"(?:exceed|go (?:above|over)|rise above|be (?:above|over|more than))"
    r"|never (?:above|over|exceed)|capped at|up to|exceed(?:s|ing)?|go (?:above|over)|rise above|(?:sur)?pass(?:es)?"
    r"|(?:limit|hold|restrict|cap)(?:s|ed|ping)?(?:\s+[\w'-]+){0,8}?\s+to)"
)
_ABOVE_NEGATED = r"(?:never|not|n't)\s+(?:\w+\s+)?(?:drop|fall|go|dip|sink)\s+(?:below|under|beneath)"
"""A floor said as a negated fall: "should never drop below", "must not fall under"."""
_NEGATED = r"(?:never|not|n't)\b[^%\d;]{0,40}?"
"""A negation and up to 40 other characters: "never has less than", "don't give broadband more than"."""
_FLOOR = (
    r"(?:at least|minimum(?: of)?|min\.?|no less than|not less than|(?:a )?floor of|reserve|guarantee|keep|"
    rf"{_ABOVE_NEGATED}|{_NEGATED}(?:less|lower) than)"
)
_CAP = (
    r"(?:at most|cap(?:s|ped|ping)?(?:\s+[\w'-]+){0,8}? (?:at|to)|no more than|"
    r"(?:limit|restrict)(?:s|ed|ing)?(?:\s+[\w'-]+){0,8}? to|maximum(?: of)?|max\.?|"
    rf"{_NEGATED}(?:more|higher|above) than)"
)
_OR_MORE = rf"(?<![\d.]){_NUM}\s*(%|percent)?\s*(?:or (?:more|above|higher)|(?:[a-z-]+\s+){{0,2}}?(?:minimum|floor)\b)"
_OR_LESS = (
    rf"(?<![\d.]){_NUM}\s*(%|percent)?\s*(?:or (?:less|below|lower)|(?:[a-z-]+\s+){{0,2}}?(?:maximum|cap|ceiling)\b)"
)
"""A bound after its number: "30% or more", "a 30% minimum URLLC share", "a 35% FWA floor"."""
_LOSS = r"loss|losses|\bdrops?\b|dropped|\blost\b|\blose\b|losing"
"""Words of a loss ceiling (read after removing :data:`_ABOVE_NEGATED`: "never drop below 40%" is a
floor on a share, not a loss)."""


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
    return re.sub(r"\s+", " ", t).strip()


_ROLE_MARKER = re.compile(
    r"(?:^|[\s\n])(?:system|assistant|developer|user)\s*:|<\|[a-z_]+\|>|\[/?inst\]|###\s*(?:system|instruction)"
)
_OVERRIDE = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\b[^.;]{0,40}?\b(?:instructions?|prompts?|rules|policy|policies)\b"
    r"|\b(?:guardrails?|safety|sla|slas|constraints?|checks?)\s+(?:are\s+|is\s+)?(?:disabled|off|removed|waived|suspended)\b"
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
    issues: list[Issue] = []
    constraints: list[SLAConstraint] = []
    restrictions: list[Restriction] = []
    for clause in _clauses(t):
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
            found, restricted = _constraints(clause), _restrictions(clause)
        except ValidationError as exc:  # a number out of range (a 400-digit ceiling is inf): ask, never crash
            first = exc.errors()[0]
            where = "constraints" if exc.title == "SLAConstraint" else "restrictions"
            what = ".".join(str(x) for x in first["loc"])
            issues.append(Issue(field=where, message=f"{what}: {first['msg']}", question="Can you restate the number?"))
            continue
        if found and _scope(clause)[0] in ("cell", "link"):
            issues.append(
                Issue(
                    field="constraints",
                    message="SLA ceilings apply to a whole slice; a ceiling scoped to cells or links is not supported",
                    question="Should the ceiling apply to the whole slice, or did you mean a share floor there?",
                )
            )
        constraints += found
        restrictions += restricted
        if not (found or restricted) and _unread(clause):
            issues.append(
                Issue(
                    field="intent",
                    message=f"part of the intent was not understood: {clause.strip()!r}",
                    question="Can you restate it (a slice, a bound, a unit: 'URLLC latency below 10 ms')?",
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
    window = _window(t)
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
    return Compilation(spec if not issues else None, issues)


MAX_INTENT_CHARS = 2_000
"""The longest intent compiled: an operator's intent is a few sentences, and every rule then runs
in well under 100 ms."""
_ID_LIST = r"\d+(?:\s*(?:,|and|or|&)\s*(?:(?:at|on|in) )?(?:(?:cell|link)s?\s*)?\d+)*"
"""Numbers joined by separators; each separator needs a number after it, so a list has one parse
(the nested optional separators it replaces backtracked exponentially on a long run of digits)."""
_ID_LIST_AND = r"\d+(?:\s*(?:,|and)\s*\d+)*"
_ID_LIST_AND_WORDS = r"\d+(?:\s*(?:,|and|&)\s*(?:(?:cell|link)s?\s*)?\d+)*"

_WAIVER = re.compile(
    r"(ignore|disable|drop|waive|forget|bypass|override|suspend|turn off|remove)\s+(the\s+|all\s+|any\s+|every\s+)?"
    r"(sla|slas|constraints?|guardrails?|ceilings?|safety)"
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


_WHERE_ONLY = re.compile(
    r"(?:on|in|at|for|along|around)?\s*(?:the\s+)?"
    rf"(?:(?:cells?|links?)\s*#?_?{_ID_LIST_AND_WORDS}|\w+ (?:zone|area|cells|sites))"
)


def _unread(clause: str) -> bool:
    """Whether a clause that gave no ceiling or bound still says something: a slice, or a number that
    no window, event or objective accounts for (nothing recognized is dropped silently)."""
    if _slices(clause):
        return True  # a slice named with no bound on it
    if not re.search(r"\d", clause):
        return False
    explained = _window(clause) is not None or _context(clause) != Context() or _objective(clause) != Objective()
    return not explained


def _clauses(t: str) -> list[str]:
    """Clauses of ``t``; a clause that only says where ("on link 2", "in the hospital cells") is
    joined to the next, which says what."""
    parts = [p.strip() for p in re.split(r";|(?<!\d)\.|\.(?!\d)|,(?! ?\d)| while | but | whilst ", t) if p.strip()]
    out: list[str] = []
    carry = ""
    for part in parts:
        if _WHERE_ONLY.fullmatch(part):
            carry += part + " "
            continue
        out.append(" " + carry + part + " ")
        carry = ""
    if carry:
        out.append(" " + carry)
    return out


def mentioned_slices(text: str) -> list[str]:
    """The slices ``text`` names (by the rules' slice words), in order of first mention."""
    return _slices(" " + text.lower() + " ")


def _slices(clause: str) -> list[str]:
    found = []
    for name, words in _SLICE_WORDS.items():
        m = re.search(rf"\b(?:{words})\b", clause)
        if m:
            found.append((m.start(), name))
    return [n for _, n in sorted(found)]


def _constraints(clause: str) -> list[SLAConstraint]:
    out = []
    latency = re.search(r"latency|delay|p99|99th|response time", clause)
    loss = re.search(_LOSS, re.sub(_ABOVE_NEGATED, " ", clause))
    slices = _slices(clause)
    # Every bound in the clause is read (two different ceilings for one quantity are a contradiction
    # that check() reports, not a choice of the first).
    read: set[int] = set()  # where each number read starts: one bound per number, however many phrasings match it
    if latency:
        ceilings = rf"{_CEILING}\s*(?:of\s*)?~?{_NUM}\s*(ms|milliseconds?|msec|s|seconds?)\b"
        after = rf"(?<![\d.]){_NUM}\s*(ms|milliseconds?|msec|s|seconds?)\s+or (?:less|below|lower)\b"
        for m in [*re.finditer(ceilings, clause), *re.finditer(after, clause)]:
            if m.start(1) in read:
                continue
            read.add(m.start(1))
            value = float(m.group(1))
            ms = value * 1000.0 if m.group(2).startswith("s") else value
            for s in slices or ["urllc"]:
                out.append(SLAConstraint(slice=s, metric="latency_p99", max=ms, unit="ms"))  # type: ignore[arg-type]
    if loss:
        after = rf"(?<![\d.]){_NUM}\s*(%|percent|pct)?\s+or (?:less|below|lower)\b"
        for m in [
            *re.finditer(rf"{_CEILING}\s*(?:of\s*)?{_NUM}\s*(%|percent|pct)?", clause),
            *re.finditer(after, clause),
        ]:
            if m.start(1) in read:
                continue
            read.add(m.start(1))
            value = float(m.group(1))
            pct = value if m.group(2) else (value * 100.0 if value <= 1.0 else value)
            for s in slices:
                out.append(SLAConstraint(slice=s, metric="loss", max=pct, unit="%"))  # type: ignore[arg-type]
    return out


def _scope(clause: str) -> tuple[str, tuple[str, ...]]:
    m = re.search(rf"\bcells?\s*#?_?({_ID_LIST})", clause)
    if m:
        return "cell", tuple(dict.fromkeys(re.findall(r"\d+", m.group(1))))
    m = re.search(rf"\blinks?\s*#?_?({_ID_LIST})", clause)
    if m and not re.search(r"maintenance|down|fail", clause):
        return "link", tuple(dict.fromkeys(re.findall(r"\d+", m.group(1))))
    zones = []
    if re.search(r"hospital(?! traffic)", clause):
        zones.append("hospital")
    if re.search(r"corridor|commuter", clause):
        zones.append("corridor")
    if re.search(r"fwa (?:zone|area|district|sites?)", clause):
        zones.append("fwa")
    # Any other named zone is kept by name, so that check() reports it if the city has none such.
    for m in re.finditer(r"\bzone\s+(\d+)|\b(\w+)(?=\s+(?:zone|area|district)\b)", clause):
        name = m.group(1) or m.group(2)
        if name not in _NOT_A_NAME and name not in ("hospital", "corridor", "fwa", "commuter") and name not in zones:
            zones.append(name)
    if zones:
        return "zone", tuple(zones)
    return "all", ()


_NOT_A_NAME = frozenset(
    "the this that each every any a whole same entire one its their of in on at to for and or is are".split()
)


def _share(value: str, unit: str | None) -> float:
    v = float(value)
    return v / 100.0 if unit or v > 1.0 else v


def _restrictions(clause: str) -> list[Restriction]:
    unnamed = re.sub(rf"\b(?:{'|'.join(_SLICE_WORDS.values())})\b", " ", clause)  # "low-latency" names a slice
    if re.search(rf"latency|delay|p99|{_LOSS}", re.sub(_ABOVE_NEGATED, " ", unnamed)):
        return []  # an SLA clause, not a share restriction
    slices = _slices(clause)
    out = []
    scope, ids = _scope(clause)
    zero = re.search(r"(?:set|cut|reduce|drop)\s+(?:the\s+)?(?:\w+\s+)?(?:shares?\s+)?(?:to|at)\s+(?:zero|0)\b", clause)
    if zero and slices:
        for s in slices:
            out.append(Restriction(scope=scope, ids=ids, slice=s, cap=0.0))  # type: ignore[arg-type]
        return out
    floor = re.search(rf"{_FLOOR}\s*{_NUM}\s*(%|percent)?", clause) or re.search(_OR_MORE, clause)
    cap = re.search(rf"{_CAP}\s*{_NUM}\s*(%|percent)?", clause) or re.search(_OR_LESS, clause)
    if not (floor or cap):
        return []
    if floor and cap and floor.start() == cap.start():
        floor = None  # "at most" read as a cap only
    lo = _share(floor.group(1), floor.group(2)) if floor else None
    hi = _share(cap.group(1), cap.group(2)) if cap else None
    targets: list[str | None] = [*slices] if slices else [None]
    for target in targets:
        out.append(Restriction(scope=scope, ids=ids, slice=target, floor=lo, cap=hi))  # type: ignore[arg-type]
    return out


_NO_COST = re.compile(
    r"ignore (?:the )?costs?|regardless of (?:the )?costs?|whatever it costs|no matter (?:the |what it )?costs?"
    r"|(?:do not|don't) care about (?:the )?costs?"
    r"|costs? (?:is |are )?(?:no|not an?|of no) (?:concern|issue|object|importance|matter)"
    r"|costs? (?:does not|doesn't|do not|don't) matter|costs? (?:is |are )?(?:irrelevant|unimportant)"
    r"|(?:do not|don't|dont|never) (?:worry|mind) about (?:the )?costs?|never mind (?:the )?costs?"
    r"|spend whatever|whatever (?:is needed|it takes)|at any cost|cost is no object"
)
_SAVE = re.compile(
    r"(?:cut|save|saving|reduce|lower|minimi[sz]e|trim|cheap|cheaper|cost[- ]efficient|economi[sz]e)\w*"
    r"|spend(?:ing)? less|less spending"
)


def objective_issues(t: str) -> list[Issue]:
    """An issue when ``t`` asks both to save cost and to disregard it."""
    if _NO_COST.search(t) and _SAVE.search(_NO_COST.sub(" ", t)) and re.search(r"cost|cheap|spend|money|econom", t):
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
    if _SAVE.search(t) and re.search(r"cost|cheap|spend|money|resources|economi", t):
        return Objective(compliance=1.0, cost=1.0)
    return Objective()


def _window(t: str) -> Window | None:
    m = re.search(r"(?:next|first) (\d+) (?:slow )?steps", t)
    if m:
        return Window(start=0, end=max(int(m.group(1)) - 1, 0))
    m = re.search(r"(?:steps?|from step) (\d+) ?(?:to|-|through|until|and) ?(?:step )?(\d+)", t)
    if m:
        return Window(start=int(m.group(1)), end=int(m.group(2)))
    m = re.search(r"(?:until|till|up to|through|to the end of) step (\d+)", t)
    if m:
        return Window(start=0, end=int(m.group(1)))
    return None


def event_of(text: str) -> str:
    """The event the text's words name, by the rules' vocabulary (``"none"`` if none)."""
    return _context(" " + canonical(text) + " ").event


def _context(t: str) -> Context:
    links = re.search(rf"links? ({_ID_LIST_AND})(?!\d)[^.;,]*?(?:maintenance|down|fail|out of service)", t)
    links = links or re.search(rf"(?:maintenance|down|outage)[^.;,]*? links? ({_ID_LIST_AND})", t)
    if links:
        return Context(event="maintenance", links_down=tuple(dict.fromkeys(re.findall(r"\d+", links.group(1)))))
    if re.search(r"maintenance", t):
        return Context(event="maintenance")
    if re.search(r"\bwave\b|rush hour|commut\w* (?:peak|rush)", t):
        return Context(event="wave")
    if re.search(r"hotspot|surge|concert|crowd|stadium|emergency", t):
        return Context(event="hotspot")
    return Context()
