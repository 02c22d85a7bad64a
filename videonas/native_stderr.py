"""The command line's stderr without TensorFlow's C++ start-up lines.

TensorFlow 2.21 logs through absl before ``absl::InitializeLog()`` is called, and such lines ignore
``TF_CPP_MIN_LOG_LEVEL``: every process that imports it (the CLI, a notebook kernel Papermill starts, each search
worker) prints "All log messages before absl::InitializeLog() ..." and an ``I0000 ... port.cc] oneDNN ...`` line, twice.
``filtered`` routes file descriptor 2 through a pipe for the duration of a command, so the processes the command
starts inherit the filter too, and drops absl-format lines below ``TF_CPP_MIN_LOG_LEVEL`` (0 keeps everything), the
pre-initialisation notice with them, and ipykernel's notice that a local kernel talks over TCP. Everything else is
forwarded as it arrives, partial lines (progress bars) included.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
import threading
from typing import Iterator

_ABSL_LINE = re.compile(rb"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ \]]+:\d+\] ")
_SEVERITY = {b"I": 0, b"W": 1, b"E": 2, b"F": 3}
_NOTICES = (b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
            b"[IPKernelApp] WARNING | Kernel is running over TCP without encryption")
# The second line of TensorFlow's CPU-features message, dropped only right after its first.
_CONTINUATIONS = (b"To enable the following instructions:",)


def is_noise(line: bytes, level: int) -> bool:
    """Whether ``line`` is a start-up line that ``TF_CPP_MIN_LOG_LEVEL`` ``level`` asks to hide."""
    if level <= 0:
        return False
    if line.startswith(_NOTICES):
        return True
    match = _ABSL_LINE.match(line)
    return bool(match) and _SEVERITY[match.group(1)] < level


def _may_become_noise(part: bytes) -> bool:
    """Whether an unfinished line could still turn out to be noise (so it waits for its end): the start of an absl
    line (a severity letter, then digits) or of a notice. absl writes a line at once, so this rarely waits."""
    if any(notice.startswith(part) for notice in _NOTICES):
        return True
    digits = part[1:5]
    return part[:1] in _SEVERITY and (not digits or digits.isdigit())


def _forward(read_end: int, write_end: int, level: int) -> None:
    pending, dropped = b"", False
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        pending += chunk
        lines = pending.split(b"\n")
        pending = lines.pop()
        kept = []
        for line in lines:
            dropped = is_noise(line, level) or (dropped and line.startswith(_CONTINUATIONS))
            kept += [] if dropped else [line + b"\n"]
        if pending and not _may_become_noise(pending):
            kept.append(pending)
            pending = b""
        if kept and not _write(write_end, b"".join(kept)):
            break
    if pending and not is_noise(pending, level):
        _write(write_end, pending)
    os.close(read_end)


def _write(descriptor: int, data: bytes) -> bool:
    try:
        os.write(descriptor, data)
    except OSError:  # the terminal went away
        return False
    return True


@contextlib.contextmanager
def filtered(level: int | None = None) -> Iterator[None]:
    """File descriptor 2 filtered by ``is_noise`` inside the block (``level``: ``TF_CPP_MIN_LOG_LEVEL``'s value)."""
    if level is None:
        value = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0")
        level = int(value) if value.isdigit() else 0
    if level <= 0:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    thread = threading.Thread(target=_forward, args=(read_end, saved, level), name="native-stderr", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # this process's last write end: the thread sees the end once children have exited
        thread.join(timeout=5)
        if not thread.is_alive():  # else a child outlives the command (a Ray daemon) and still writes through it
            os.close(saved)


def import_quietly(*names: str) -> None:
    """Import ``names`` with the filter on: ``make setup``'s check that the environment works, without TensorFlow's
    start-up lines (a failed import still raises, with its traceback)."""
    with filtered():
        for name in names:
            importlib.import_module(name)
