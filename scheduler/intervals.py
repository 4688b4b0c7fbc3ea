"""Interval arithmetic on slot numbers, the planner's one copy.

Periods are half-open ``(a, b)`` = slots a … b-1; start ranges are closed ``(lo, hi)`` = starts
lo … hi (as CP-SAT domains are written). ``closed=True`` says which one a list holds.
"""

from __future__ import annotations

Pairs = list[tuple[int, int]]


def union_of(lists: list[Pairs], *, closed: bool = False) -> Pairs:
    """The sorted, merged union of several lists; closed ranges that touch (hi + 1 = lo) join."""
    gap = 1 if closed else 0
    out: Pairs = []
    for lo, hi in sorted(pair for pairs in lists for pair in pairs):
        if out and lo <= out[-1][1] + gap:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def intersect(p: Pairs, q: Pairs, *, closed: bool = False) -> Pairs:
    """What two sorted, merged lists both cover."""
    out: Pairs = []
    i = j = 0
    while i < len(p) and j < len(q):
        lo, hi = max(p[i][0], q[j][0]), min(p[i][1], q[j][1])
        if lo < hi or (closed and lo == hi):
            out.append((lo, hi))
        if p[i][1] < q[j][1]:
            i += 1
        else:
            j += 1
    return out
