"""The validation split carved from train when the data has none: stratified by class, seeded, and group-aware.

Clips cut from one source video (UCF-101 `v_<Class>_g<group>_c<clip>`, HMDB-51 names; `VideoRecord.group`) look
alike, so a clip in val with its sibling in train inflates validation accuracy: a group goes to one side whole.
Records without a group are groups of one, which makes the choice the plain per-record one.
"""

from __future__ import annotations

import numpy as np

from videonas.data.records import VideoRecord


def stratified(records: list[VideoRecord], fraction: float,
               seed: int) -> tuple[list[VideoRecord], list[VideoRecord], int]:
    """(train, val, groups of several clips kept whole). Per class (first label), groups in a seeded order go to val
    until it holds about `fraction` of the class's records; at least one group stays in train."""
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[int]] = {}
    for index, record in enumerate(records):
        by_class.setdefault(record.labels[0] if record.labels else -1, []).append(index)
    chosen, shared = set(), 0
    for label in sorted(by_class):
        members = sorted(by_class[label], key=lambda i: records[i].path)
        groups: dict[str, list[int]] = {}
        for member in members:
            groups.setdefault(records[member].group or f"\0{records[member].path}", []).append(member)
        ordered = list(groups.values())  # in the order of their first member's path
        shared += sum(1 for group in ordered if len(group) > 1)
        count = min(max(1, round(fraction * len(members))), len(members) - 1)
        taken = 0
        for position in rng.permutation(len(ordered)):
            if taken >= count:
                break
            if len(ordered[position]) > len(members) - 1 - taken:
                continue  # would leave the class without train videos
            chosen.update(ordered[position])
            taken += len(ordered[position])
    return ([r for i, r in enumerate(records) if i not in chosen], [r for i, r in enumerate(records) if i in chosen],
            shared)
