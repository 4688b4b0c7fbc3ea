"""Honest "moved": no granted request starts later than it could with everything else unchanged.

:func:`compact` moves each granted request to the earliest start that breaks no rule with every
other booking where it is (chains keep their order and gaps), so a plan's later start always
means the earlier time was taken. :func:`needless_delays` finds the requests of a plan that could
start earlier that way (the validator reports them).
"""

from __future__ import annotations

from collections.abc import Collection

from scheduler.facts import Prepared
from scheduler.problem import Request
from scheduler.timeline import Timeline


def _earliest_allowed(prep: Prepared, q: Request) -> int:
    if q.nodes > 1:
        ranges = prep.gang_starts.get(q.id) or [(q.earliest, q.earliest)]
        return ranges[0][0]
    return min((r[0][0] for r in prep.starts.get(q.id, {}).values() if r), default=q.earliest)


def _lowest(prep: Prepared, tl: Timeline, q: Request) -> int:
    """Lowest start the window and the chain partners (where they are) allow for ``q``."""
    lo = q.earliest
    members = prep.chain_of().get(q.id)
    if not members:
        return lo
    i = next(n for n, m in enumerate(members) if m.id == q.id)
    if i > 0:
        prev = members[i - 1]
        if prev.id in tl.placed:
            lo = max(lo, tl.placed[prev.id][1] + prev.duration)
    if i + 1 < len(members):
        nxt = members[i + 1]
        if nxt.max_gap is not None and nxt.id in tl.placed:
            lo = max(lo, tl.placed[nxt.id][1] - nxt.max_gap - q.duration)
    return lo


def earlier_spot(prep: Prepared, tl: Timeline, q: Request) -> tuple[tuple[str, ...], int] | None:
    """An earlier placement of the placed request ``q`` with all else unchanged, if any."""
    rids, start = tl.placed[q.id]
    if start <= max(q.earliest, _earliest_allowed(prep, q)):
        return None
    lo = _lowest(prep, tl, q)
    if lo >= start:
        return None
    tl.remove(q)
    spot = tl.find(q, lo=lo, hi=start - 1)
    tl.place(q, rids, start)
    return spot


def compact(
    prep: Prepared, tl: Timeline, *, keep: Collection[str] = (), passes: int = 3
) -> Timeline:
    """Move granted requests earlier where nothing else has to change (``keep``: requests that
    stay where they are, e.g. confirmed bookings). Changes ``tl`` in place and returns it."""
    reqs = prep.problem.request_by_id
    keep = set(keep)
    for _ in range(passes):
        moved = False
        for qid in sorted(tl.placed, key=lambda qid: tl.placed[qid][1]):
            if qid in keep:
                continue
            q = reqs[qid]
            spot = earlier_spot(prep, tl, q)
            if spot is not None:
                tl.remove(q)
                tl.place(q, *spot)
                moved = True
        if not moved:
            break
    return tl


def needless_delays(prep: Prepared, tl: Timeline) -> list[str]:
    """The placed requests that could start earlier with every other booking unchanged."""
    reqs = prep.problem.request_by_id
    out = []
    for qid in sorted(tl.placed):
        spot = earlier_spot(prep, tl, reqs[qid])
        if spot is not None:
            out.append(
                f"{qid}: starts at {tl.placed[qid][1]} but could start at {spot[1]} on "
                f"{', '.join(spot[0])} with nothing else changed"
            )
    return out
