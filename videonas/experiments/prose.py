"""Verdicts in words: what a notebook prints as its conclusion and what the index shows.

The wording follows the verdict and nothing else: only a *supported* verdict says the result supports the paper;
an inconclusive one says that this run cannot tell, why, and what it could have detected (the power statement: the
smallest true effect beyond the claim's boundary found with 80% power at this n and spread). Numbers carry their
unit and are formatted for reading (no Python reprs, no bracketed lists).
"""

from __future__ import annotations

import math
import re
from typing import Iterable, Sequence

from videonas.experiments.verdicts import Verdict

_INTERVAL_NAMES = {"t": "t", "welch": "Welch t", "bootstrap": "bootstrap"}
_OUTCOME = {
    "supported": "supports the paper's claim",
    "contradicted": "contradicts the paper's claim",
    "inconclusive": "cannot tell",
}


def decimals_for(*values: float | None, digits: int = 3) -> int:
    """Decimals that give the largest of ``values`` ``digits`` significant figures (so an interval's ends and its
    estimate are written alike)."""
    finite = [abs(float(v)) for v in values if v is not None and math.isfinite(float(v)) and v != 0]
    if not finite:
        return 0
    return max(0, digits - 1 - math.floor(math.log10(max(finite))))


def format_number(value: float | None, *, decimals: int | None = None, signed: bool = False) -> str:
    """``value`` with ``decimals`` decimals (default: three significant figures), thousands separated, a true minus
    sign and, with ``signed``, a plus sign; "n/a" when missing."""
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    value = float(value)
    decimals = decimals_for(value) if decimals is None else decimals
    text = f"{value:{'+' if signed and value != 0 else ''},.{decimals}f}"
    return text.replace("-", "\u2212")


def format_quantity(value: float | None, unit: str = "", *, decimals: int | None = None,
                    signed: bool = False) -> str:
    """``value`` with its unit: "+1.25 points", "12.0x", "37.0 ms"; "n/a" when missing."""
    text = format_number(value, decimals=decimals, signed=signed)
    if text == "n/a" or not unit:
        return text
    return f"{text}{unit}" if unit in ("x", "%") else f"{text} {unit}"


def format_interval(low: float | None, high: float | None, unit: str = "", *, decimals: int | None = None,
                    signed: bool = False) -> str:
    """"from -0.8 to +3.4 points", or "undefined" without an interval."""
    if low is None or high is None:
        return "undefined"
    decimals = decimals_for(low, high) if decimals is None else decimals
    return (f"from {format_number(low, decimals=decimals, signed=signed)} to "
            f"{format_quantity(high, unit, decimals=decimals, signed=signed)}")


def format_list(items: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    items = [str(item) for item in items]
    if len(items) <= 2:
        return " and ".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def result_text(verdict: Verdict) -> str:
    """Our result with its interval: "+1.3 points (95% t interval from -0.8 to +3.4 points; 5 seeds; exact p = 0.19,
    smallest attainable 0.031; t p = 0.12)"."""
    signed = verdict.kind != "ratio_at_least"
    decimals = decimals_for(verdict.estimate, verdict.low, verdict.high)
    value = format_quantity(verdict.estimate, verdict.unit, decimals=decimals, signed=signed)
    if verdict.method == "exact":
        return f"{value} (exact figures)"
    interval = format_interval(verdict.low, verdict.high, verdict.unit, decimals=decimals, signed=signed)
    method = _INTERVAL_NAMES.get(verdict.method, verdict.method)
    parts = [f"{round(100 * verdict.confidence):d}% {method} interval {interval}", _count(verdict)]
    if verdict.dropped:
        parts.append(f"{verdict.dropped} failed {'seed' if verdict.dropped == 1 else 'seeds'} dropped")
    parts += p_value_texts(verdict)
    if verdict.noise_floor is not None:
        spread = format_quantity(verdict.noise_floor, verdict.unit)
        parts.append(f"the same net retrained over seeds spreads by {spread}")
    return f"{value} ({'; '.join(parts)})"


def p_value_texts(verdict: Verdict) -> list[str]:
    """The tests' p-values in words: the exact test's with its smallest attainable p and any ties, then the t
    test's ("exact p = 0.016, smallest attainable 0.016", "t p = 0.0012"); none for exact figures."""
    parts = []
    if verdict.p_value is not None:
        text = f"exact p = {verdict.p_value:.2g}"
        if verdict.min_p_value is not None:
            text += f", smallest attainable {verdict.min_p_value:.2g}"
        if verdict.ties:
            text += f" ({verdict.ties} tied {'seed' if verdict.ties == 1 else 'seeds'}, no sign)"
        parts.append(text)
    if verdict.t_p_value is not None:
        parts.append(f"t p = {verdict.t_p_value:.2g}")
    return parts


def power_text(verdict: Verdict) -> str:
    """What the run could have detected: "80% power for a true difference of +5.1 points or more (4.1 points
    beyond the claim's boundary, +1.0 points)"; "" without a power statement (exact figures, one seed)."""
    level = (1 - verdict.confidence) / 2
    if not verdict.can_decide:
        return (f"with {_count(verdict)} the exact test cannot decide at any effect size: its smallest attainable "
                f"p is {verdict.min_p_value:.2g}, and it needs below {level:.2g}")
    if verdict.detectable is None:
        return ""
    power = f"{round(100 * verdict.power):d}% power"
    detectable, margin, unit = verdict.detectable, verdict.margin, verdict.unit
    if verdict.kind == "ratio_at_least":
        return (f"{power} for a true ratio of {format_quantity(margin * detectable, unit)} or more "
                f"({format_number(detectable)} times the claim's boundary, {format_quantity(margin, unit)})")
    if verdict.kind == "equivalent":
        return (f"{power} to confirm a band only as narrow as \u00b1{format_quantity(detectable, unit)} when the "
                f"true difference is 0 (the claim allows \u00b1{format_quantity(margin, unit)})")
    return (f"{power} for a true difference of {format_quantity(margin + detectable, unit, signed=True)} or more "
            f"({format_quantity(detectable, unit)} beyond the claim's boundary, "
            f"{format_quantity(margin, unit, signed=True)})")


def minimum_effect_text(verdict: Verdict) -> str:
    """The claim's boundary as a minimum effect of interest: "A \u2212 B > +1.00 points", "A / B \u2265 10.0x"."""
    if verdict.kind == "ratio_at_least":
        return f"A / B \u2265 {format_quantity(verdict.margin, verdict.unit)}"
    if verdict.kind == "equivalent":
        return f"|A \u2212 B| \u2264 {format_quantity(verdict.margin, verdict.unit)}"
    return f"A \u2212 B > {format_quantity(verdict.margin, verdict.unit, signed=True)}"


def short_result(verdict: Verdict) -> str:
    """A table cell: "+6.22 points (+3.43 to +9.36); exact p = 0.016, smallest attainable 0.016; t p = 0.0012"."""
    signed = verdict.kind != "ratio_at_least"
    decimals = decimals_for(verdict.estimate, verdict.low, verdict.high)
    value = format_quantity(verdict.estimate, verdict.unit, decimals=decimals, signed=signed)
    if verdict.method == "exact":
        return f"{value} (exact figures)"
    if verdict.low is None:
        return f"{value} ({_count(verdict)}, no interval)"
    interval = (f"{format_number(verdict.low, decimals=decimals, signed=signed)} to "
                f"{format_number(verdict.high, decimals=decimals, signed=signed)}")
    if verdict.method not in ("t", "welch"):
        interval += f", {_INTERVAL_NAMES.get(verdict.method, verdict.method)}"
    return "; ".join([f"{value} ({interval}), {_count(verdict)}", *p_value_texts(verdict)])


def paper_figure_text(verdict: Verdict) -> str:
    """The paper's figure with its unit, as published ("54x", "0.8 points"); "" when the paper gives none."""
    if verdict.paper_figure is None:
        return ""
    figure = float(verdict.paper_figure)
    # As published: as many decimals as the paper gives, not our three significant figures.
    decimals = 0 if figure.is_integer() else min(3, len(repr(figure).split(".")[1]))
    return format_quantity(figure, verdict.paper_unit, decimals=decimals)


def claim_text(verdict: Verdict) -> str:
    """The paper's claim and, where one exists, its figure."""
    if verdict.paper_figure is None:
        return f"{verdict.claim} (no paper figure for this quantity)"
    return f"{verdict.claim} (paper: {paper_figure_text(verdict)})"


def describe(verdict: Verdict) -> str:
    """The question, the paper's claim, our result with its interval, and the verdict with its reason."""
    question = verdict.question if verdict.question.endswith(("?", ".", "!")) else verdict.question + "."
    return f"{question} Paper: {claim_text(verdict)}. Here: {result_text(verdict)}. {_verdict_sentence(verdict)}"


def notes_of(conclusion_text: str, verdicts: Sequence[Verdict]) -> str:
    """What ``conclusion`` wrote after the verdicts (its ``notes``), so that a page already showing the verdicts
    shows the rest once; a verdict whose description is not found leaves the text as it is."""
    verdicts = list(verdicts)
    text = conclusion_text
    if verdicts:
        text = re.sub(r"^\s*\d+ questions? judged: [^.]*\.", "", text)
    for verdict in verdicts:
        start = text.find(verdict.question)
        tail = _verdict_sentence(verdict)
        end = text.find(tail, max(start, 0))
        if start >= 0 and end >= 0:
            text = text[:start] + text[end + len(tail):]
    return " ".join(text.split())


def conclusion_markdown(verdicts: Sequence[Verdict], conclusion_text: str, *, heading: str = "Conclusion",
                        level: int = 2) -> str:
    """A notebook's conclusion as Markdown: ``heading`` (at heading ``level``), the count of verdicts, a heading per
    question (one level down) with the verdict, the paper's claim and our result, then the notes, so the rendered
    report reads as prose."""
    if level not in range(1, 6):
        raise ValueError(f"level must be a Markdown heading level from 1 to 5, got {level!r}")
    verdicts = list(verdicts)
    sub = "#" * (level + 1)
    parts = [f"{'#' * level} {heading}"]
    if not verdicts:
        return "\n\n".join([*parts, conclusion_text.strip() or "No question was judged in this run."])
    counts = {name: sum(v.verdict == name for v in verdicts) for name in _OUTCOME}
    parts.append(f"{len(verdicts)} {'question' if len(verdicts) == 1 else 'questions'} judged: "
                 f"{format_list([f'{count} {name}' for name, count in counts.items() if count])}.")
    for verdict in verdicts:
        why = inconclusive_text(verdict)
        why = f" {why[:1].upper()}{why[1:]}." if why else ""
        figure = paper_figure_text(verdict)
        parts += [f"{sub} {verdict.question}",
                  f"**Verdict: {verdict.verdict}.**{why}\n\n"
                  f"- the paper: {verdict.claim}{f' ({figure})' if figure else ''}\n"
                  f"- this run: {result_text(verdict)}"]
    notes = notes_of(conclusion_text, verdicts)
    if notes:
        parts += [f"{sub} Notes", notes]
    return "\n\n".join(parts)


def conclusion(verdicts: Iterable[Verdict], *, notes: Sequence[str] = ()) -> str:
    """A notebook's conclusion: a count of the verdicts, then ``describe`` of each, then ``notes``."""
    verdicts = list(verdicts)
    if not verdicts:
        return " ".join(["No question was judged in this run.", *filter(None, notes)]).strip()
    counts = {name: sum(v.verdict == name for v in verdicts) for name in _OUTCOME}
    summary = format_list([f"{count} {name}" for name, count in counts.items() if count])
    return " ".join([f"{len(verdicts)} {'question' if len(verdicts) == 1 else 'questions'} judged: {summary}.",
                     *(describe(v) for v in verdicts), *filter(None, notes)]).strip()


def inconclusive_text(verdict: Verdict) -> str:
    """Why an inconclusive verdict could not decide, and the power statement that says what it rules out ("" for a
    decisive verdict)."""
    if verdict.verdict != "inconclusive":
        return ""
    parts = [verdict.reason.strip().rstrip("."), power_text(verdict)]
    return "; ".join(part for part in parts if part)


def _verdict_sentence(verdict: Verdict) -> str:
    why = inconclusive_text(verdict)
    return f"Verdict: this run {_OUTCOME[verdict.verdict]}{f': {why}' if why else ''}."


def _count(verdict: Verdict) -> str:
    """``n`` with what it counts: "6 seeds", "1 seed", "5 timed runs"."""
    counted = getattr(verdict, "counted", "seeds")
    return f"{verdict.n} {counted[:-1] if verdict.n == 1 and counted.endswith('s') else counted}"
