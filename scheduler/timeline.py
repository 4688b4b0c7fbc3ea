"""A mutable occupancy record used by the greedy planners and by the reason finder.

It keeps, per resource, the capacity used in every slot and, for pilot lines, the ordered runs, so
it can answer "where is the earliest start for this request that breaks no hard rule?".
"""

from __future__ import annotations

import bisect

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from scheduler.analysis import Prepared, Ranges
from scheduler.problem import PILOT_LINE, Request


class _Lazy(dict):
    """Per-resource load arrays, created on first use (cheap for many small timelines)."""

    def __init__(self, horizon: int) -> None:
        super().__init__()
        self.horizon = horizon

    def __missing__(self, key: str) -> np.ndarray:
        arr = np.zeros(self.horizon, dtype=np.int32)
        self[key] = arr
        return arr


class Timeline:
    def __init__(self, prep: Prepared) -> None:
        self.prep = prep
        self.problem = prep.problem
        self.H = self.problem.horizon
        self.res = self.problem.resource_by_id
        self.used: dict[str, np.ndarray] = _Lazy(self.H)
        # Pilot-line runs sorted by start: parallel lists of starts and (end, recipe).
        self.run_starts: dict[str, list[int]] = {}
        self.run_info: dict[str, list[tuple[int, str | None]]] = {}
        self.placed: dict[str, tuple[tuple[str, ...], int]] = {}
        self.usage: dict[tuple[str, str], int] = {}

    def clone(self) -> Timeline:
        other = Timeline.__new__(Timeline)
        other.__dict__.update(self.__dict__)
        other.used = _Lazy(self.H)
        for rid, arr in self.used.items():
            other.used[rid] = arr.copy()
        other.run_starts = {rid: list(v) for rid, v in self.run_starts.items()}
        other.run_info = {rid: list(v) for rid, v in self.run_info.items()}
        other.placed = dict(self.placed)
        other.usage = dict(self.usage)
        return other

    # -- queries -------------------------------------------------------------------------------
    def _mask(self, ranges: Ranges, d: int, lo: int, hi: int) -> np.ndarray:
        n = self.H - d + 1
        m = np.zeros(max(n, 0), dtype=bool)
        for a, b in ranges:
            a, b = max(a, lo, 0), min(b, hi, n - 1)
            if a <= b:
                m[a : b + 1] = True
        return m

    def _capacity_ok(self, rid: str, d: int, units: int) -> np.ndarray:
        free = self.res[rid].capacity - self.used[rid]
        return sliding_window_view(free, d).min(axis=1) >= units

    def line_ok(self, rid: str, recipe: str | None, s: int, e: int) -> bool:
        """Changeover gaps to the neighbouring runs on a line hold for a run in [s, e)."""
        starts = self.run_starts.get(rid)
        if not starts:
            return True
        r = self.res[rid]
        i = bisect.bisect_left(starts, s)
        if i > 0:
            pe, precipe = self.run_info[rid][i - 1]
            if s < pe + self.prep.changeover_gap(r, precipe, recipe):
                return False
        if i < len(starts):
            ns = starts[i]
            _, nrecipe = self.run_info[rid][i]
            if ns < e + self.prep.changeover_gap(r, recipe, nrecipe):
                return False
        return True

    def _needs_line_check(self, rid: str) -> bool:
        r = self.res[rid]
        return r.kind == PILOT_LINE and bool(r.changeovers)

    def find(
        self, q: Request, lo: int = 0, hi: int | None = None
    ) -> tuple[tuple[str, ...], int] | None:
        """Earliest placement of ``q`` starting in ``[lo, hi]`` that breaks no hard rule
        (quotas excepted: the caller checks those)."""
        hi = self.H if hi is None else hi
        d = q.duration
        if d > self.H:
            return None
        per_res = self.prep.starts[q.id]
        if q.nodes > 1:
            oks = []
            for rid, ranges in per_res.items():
                oks.append(
                    (rid, self._mask(ranges, d, lo, hi) & self._capacity_ok(rid, d, q.units))
                )
            if len(oks) < q.nodes:
                return None
            count = np.sum([ok for _, ok in oks], axis=0)
            hits = np.flatnonzero(count >= q.nodes)
            if hits.size == 0:
                return None
            s = int(hits[0])
            chosen = tuple(rid for rid, ok in oks if ok[s])[: q.nodes]
            return chosen, s
        best: tuple[tuple[str, ...], int] | None = None
        for rid, ranges in per_res.items():
            top = hi if best is None else min(hi, best[1] - 1)
            if top < lo:
                break
            ok = self._mask(ranges, d, lo, top) & self._capacity_ok(rid, d, q.units)
            hits = np.flatnonzero(ok)
            if not hits.size:
                continue
            if self._needs_line_check(rid):
                for s in hits:
                    s = int(s)
                    if self.line_ok(rid, q.recipe, s, s + d):
                        best = ((rid,), s)
                        break
            else:
                best = ((rid,), int(hits[0]))
        return best

    def quota_left(self, tenant: str, klass: str) -> int | None:
        quota = self.problem.tenant_by_id[tenant].quota(klass)
        if quota is None:
            return None
        return quota - self.usage.get((tenant, klass), 0)

    # -- changes -------------------------------------------------------------------------------
    def place(self, q: Request, resources: tuple[str, ...], start: int) -> None:
        e = start + q.duration
        for rid in resources:
            self.used[rid][start:e] += q.units
            if self.res[rid].kind == PILOT_LINE:
                starts = self.run_starts.setdefault(rid, [])
                info = self.run_info.setdefault(rid, [])
                i = bisect.bisect_left(starts, start)
                starts.insert(i, start)
                info.insert(i, (e, q.recipe))
        self.placed[q.id] = (resources, start)
        key = (q.tenant, self.prep.klass[q.id])
        self.usage[key] = self.usage.get(key, 0) + q.usage

    def remove(self, q: Request) -> None:
        resources, start = self.placed.pop(q.id)
        e = start + q.duration
        for rid in resources:
            self.used[rid][start:e] -= q.units
            if self.res[rid].kind == PILOT_LINE:
                starts = self.run_starts[rid]
                i = bisect.bisect_left(starts, start)
                while self.run_info[rid][i][0] != e:
                    i += 1
                del starts[i]
                del self.run_info[rid][i]
        key = (q.tenant, self.prep.klass[q.id])
        self.usage[key] -= q.usage

    def place_unit(self, members: list[Request], *, quotas: bool = True, tries: int = 24) -> bool:
        """Place a single request or a whole chain (all or nothing); respects quotas.
        ``tries``: how many starts of a chain's first step are tried."""
        if not quotas:
            return self._place_members(members, tries)
        need: dict[tuple[str, str], int] = {}
        for q in members:
            key = (q.tenant, self.prep.klass[q.id])
            need[key] = need.get(key, 0) + q.usage
        for (t, c), n in need.items():
            left = self.quota_left(t, c)
            if left is not None and n > left:
                return False
        return self._place_members(members, tries)

    def _place_members(self, members: list[Request], tries: int) -> bool:
        if len(members) == 1:
            spot = self.find(members[0])
            if spot is None:
                return False
            self.place(members[0], *spot)
            return True
        return self._place_chain(members, tries)

    def _place_chain(self, members: list[Request], tries: int = 24) -> bool:
        first = members[0]
        lo = 0
        for _ in range(tries):
            spot = self.find(first, lo=lo)
            if spot is None:
                return False
            self.place(first, *spot)
            done = [first]
            ok = True
            prev_end = spot[1] + first.duration
            for q in members[1:]:
                hi = None if q.max_gap is None else prev_end + q.max_gap
                nxt = self.find(q, lo=prev_end, hi=hi)
                if nxt is None:
                    ok = False
                    break
                self.place(q, *nxt)
                done.append(q)
                prev_end = nxt[1] + q.duration
            if ok:
                return True
            for q in reversed(done):
                self.remove(q)
            lo = spot[1] + 1
        return False
