"""Validators shared by every layer of the package: each message names the field and the offending value.

The lowest module of the package (no videonas imports), so that genomes, data, search, training and plots can all
check their inputs the same way without importing one another.
"""

from __future__ import annotations

import numbers
import reprlib
from typing import Any, Callable, Mapping, Sequence

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 4, 80, 80, 40
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = _REPR.maxfrozenset = 12
QUOTE_LIMIT = 160
# The one bound on a clip's shape: every genome, builder, task and data spec accepts at most these (a family may search
# a narrower range, e.g. TVN's paper space of 1-128 frames at 32-320 px, inside them).
MAX_FRAMES = 1024
MIN_IMAGE_SIZE = 8
MAX_IMAGE_SIZE = 1024


def quote(value: Any) -> str:
    """``repr(value)`` for an error message, cut to a short prefix: a huge or deep value never floods a log."""
    text = _REPR.repr(value)
    return text if len(text) <= QUOTE_LIMIT else text[: QUOTE_LIMIT - 3] + "..."

def parse_command(parser: Any, argv: Sequence[str], *, required: Sequence[str] = ()) -> Any:
    """``parser.parse_args(argv)`` for a command whose ``required`` options (destinations) are checked after parsing:
    argparse checks required options before unknown ones, so ``--confg x`` would be reported as a missing
    ``--config`` instead of as the misspelled option it is."""
    args = parser.parse_args(argv)
    missing = [f"--{name.replace('_', '-')}" for name in required if getattr(args, name) is None]
    if missing:
        parser.error(f"the following arguments are required: {', '.join(missing)}")
    return args


def printable(text: Any) -> str:
    """``str(text)`` with every non-printable character (terminal escapes, control codes) shown escaped: text read from
    a store or a file never drives the terminal it is printed on."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(text))


def check_type(field: str, value: Any, expected: type | tuple[type, ...]) -> None:
    if isinstance(value, bool) and expected in (int, float, (int, float)):
        raise ValueError(f"{field} must be {_type_name(expected)}, got {quote(value)} (bool)")
    if expected is float and isinstance(value, numbers.Real):
        return
    if not isinstance(value, expected):
        raise ValueError(f"{field} must be {_type_name(expected)}, got {quote(value)} ({type(value).__name__})")


def check_int(field: str, value: Any, low: int, high: int) -> None:
    """``value`` is an int in the closed range ``[low, high]``."""
    check_type(field, value, int)
    if not low <= value <= high:
        raise ValueError(f"{field} must be in [{low}, {high}], got {quote(value)}")


def check_float(field: str, value: Any, low: float, high: float) -> None:
    """``value`` is a real number in the closed range ``[low, high]``."""
    check_type(field, value, float)
    if not low <= float(value) <= high:
        raise ValueError(f"{field} must be in [{low}, {high}], got {quote(value)}")


def check_choice(field: str, value: Any, choices: Sequence[Any]) -> None:
    if isinstance(value, bool) or value not in choices:
        raise ValueError(f"{field} must be one of {quote(list(choices))}, got {quote(value)}")


def check_keys(field: str, data: Mapping[str, Any], required: Sequence[str], optional: Sequence[str] = ()) -> None:
    """A decoded mapping has exactly the expected keys; unknown keys are refused rather than silently dropped."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{field} must be a mapping, got {quote(data)} ({type(data).__name__})")
    missing = [k for k in required if k not in data]
    if missing:
        raise ValueError(f"{field} is missing {quote(missing)}")
    unknown = sorted(map(str, set(data) - set(required) - set(optional)))
    if unknown:
        dotted = ", ".join(f"{field}.{key}" for key in unknown)
        allowed = ", ".join(sorted(set(required) | set(optional))) or "none"
        raise ValueError(f"{field} has unknown keys {quote(unknown)} ({quote(dotted)[1:-1]}); allowed keys of "
                         f"{field}: {allowed}")


def within(path: str, default: str, make: Callable[[], Any]) -> Any:
    """``make()``, with the dotted ``path`` of a nested value in its ``ValueError``: a class that names its own fields
    ``default.x`` (``task.num_frames``) reports ``path.x`` when it sits elsewhere in a configuration
    (``search.task.num_frames``)."""
    try:
        return make()
    except ValueError as error:
        message = str(error)
        if message.startswith(path):
            raise
        if default and message.startswith(default):
            raise ValueError(path + message[len(default):]) from None
        raise ValueError(f"{path}: {message}") from None


def check_seeds(field: str, seeds: Any) -> None:
    """``seeds`` is a non-empty sequence of distinct non-negative integers: the declared seeds of an experiment's
    repeats (each one a run's identity, so a repeated seed would silently count one run twice)."""
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise ValueError(f"{field} must be a non-empty list of distinct seeds, got {quote(seeds)}")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"{field} must be non-negative integers, got {quote(seed)} in {quote(list(seeds))}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"{field} must be a non-empty list of distinct seeds, got {quote(list(seeds))}")


def _type_name(expected: type | tuple[type, ...]) -> str:
    if isinstance(expected, tuple):
        return " or ".join(t.__name__ for t in expected)
    return expected.__name__
