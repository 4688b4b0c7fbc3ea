"""A mutable occupancy record used by the greedy planners and by the reason finder.

It keeps, per resource, the capacity used in every slot and, for pilot lines, the ordered runs, so
it can answer "where is the earliest start for this request that breaks no hard rule?".
"""

from __future__ import annotations

import bisect

import numpy as np

from scheduler.facts import Prepared
from scheduler.problem import DIMENSIONS, PILOT_LINE, Request


def add_dims(have: tuple[int, ...] | None, q: Request, sign: int) -> tuple[int, ...]:
    """``have`` (slots of each of ``DIMENSIONS``) plus (``sign`` 1) or minus (-1) what ``q``
    uses: per node asked, times its duration and nodes."""
    have = have or (0,) * len(DIMENSIONS)
    n = sign * q.duration * q.nodes
    return tuple(h + n * getattr(q, dim) for h, dim in zip(have, DIMENSIONS, strict=True))


class Timeline:
    def __init__(self, prep: Prepared) -> None:
        self.prep = prep
        self.problem = prep.problem
        self.H = self.problem.horizon
        self.res = self.problem.resource_by_id
        # One row of load per resource; ``used[rid]`` is a view of its row.
        self.rows = prep.resource_rows()
        self.U = np.zeros((len(self.rows), self.H), dtype=np.int32)
        self.used: dict[str, np.ndarray] = {rid: self.U[i] for rid, i in self.rows.items()}
        # GPU nodes' other dimensions (CPUs, memory), where a node counts them: load and caps.
        self.D: dict[str, np.ndarray] = {}
        self.dcap: dict[str, np.ndarray] = {}
        for dim in DIMENSIONS:
            caps = [getattr(r, dim) for r in self.problem.resources]
            if any(caps):
                self.D[dim] = np.zeros((len(self.rows), self.H), dtype=np.int64)
                big = np.iinfo(np.int64).max // 4
                self.dcap[dim] = np.array([c or big for c in caps], dtype=np.int64)
        # Pilot-line runs sorted by start: parallel lists of starts and (end, recipe).
        self.run_starts: dict[str, list[int]] = {}
        self.run_info: dict[str, list[tuple[int, str | None]]] = {}
        self.placed: dict[str, tuple[tuple[str, ...], int]] = {}
        self.usage: dict[tuple[str, str], int] = {}
        # Per tenant and class, CPU-slots and memory-slots granted (for dominant shares).
        self.dims: dict[tuple[str, str], tuple[int, ...]] = {}

    def clone(self) -> Timeline:
        other = Timeline.__new__(Timeline)
        other.__dict__.update(self.__dict__)
        other.U = self.U.copy()
        other.used = {rid: other.U[i] for rid, i in self.rows.items()}
        other.D = {dim: m.copy() for dim, m in self.D.items()}
        other.run_starts = {rid: list(v) for rid, v in self.run_starts.items()}
        other.run_info = {rid: list(v) for rid, v in self.run_info.items()}
        other.placed = dict(self.placed)
        other.usage = dict(self.usage)
        other.dims = dict(self.dims)
        return other

    # -- queries -------------------------------------------------------------------------------
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

    def _has_line_check(self, qid: str, rids: list[str]) -> bool:
        key = ("line", qid)
        has = self.prep.cache.get(key)
        if has is None:
            has = self.prep.cache[key] = any(self._needs_line_check(r) for r in rids)
        return has

    def _needs_line_check(self, rid: str) -> bool:
        r = self.res[rid]
        return r.kind == PILOT_LINE and bool(r.changeovers)

    def _ok_matrix(self, q: Request, rids: list[str], lo: int, hi: int) -> np.ndarray:
        """Rows: candidates; columns: starts 0..H-d; true where capacity, calendars,
        maintenance and training all allow ``q`` to start (changeovers not checked)."""
        d = q.duration
        n = self.H - d + 1
        idx, caps, groups = self.prep.candidate_info(q.id)
        bad = (caps[:, None] - self.U[idx]) < q.units
        for dim, load in self.D.items():
            need = getattr(q, dim)
            if need:
                bad |= (self.dcap[dim][idx][:, None] - load[idx]) < need
        c = np.zeros((len(rids), self.H + 1), dtype=np.int32)
        np.cumsum(bad, axis=1, out=c[:, 1:])
        ok = (c[:, d:] - c[:, :n]) == 0
        mask = np.zeros(ok.shape, dtype=bool)
        for ranges, rows in groups:
            m = np.zeros(n, dtype=bool)
            for a, b in ranges:
                a, b = max(a, lo, 0), min(b, hi, n - 1)
                if a <= b:
                    m[a : b + 1] = True
            mask[rows] = m
        return ok & mask

    def find(
        self, q: Request, lo: int = 0, hi: int | None = None
    ) -> tuple[tuple[str, ...], int] | None:
        """Earliest placement of ``q`` starting in ``[lo, hi]`` that breaks no hard rule
        (quotas excepted: the caller checks those)."""
        hi = self.H if hi is None else hi
        if q.duration > self.H:
            return None
        rids = list(self.prep.starts[q.id])
        if not rids or len(rids) < q.nodes:
            return None
        ok = self._ok_matrix(q, rids, lo, hi)
        if q.nodes > 1:
            hits = np.flatnonzero(ok.sum(axis=0) >= q.nodes)
            if hits.size == 0:
                return None
            s = int(hits[0])
            return tuple(r for i, r in enumerate(rids) if ok[i, s])[: q.nodes], s
        cols = np.flatnonzero(ok.any(axis=0))
        if not self._has_line_check(q.id, rids):
            if cols.size == 0:
                return None
            s = int(cols[0])
            return (rids[int(np.flatnonzero(ok[:, s])[0])],), s
        for s in cols:
            s = int(s)
            for i in np.flatnonzero(ok[:, s]):
                rid = rids[int(i)]
                if not self._needs_line_check(rid) or self.line_ok(
                    rid, q.recipe, s, s + q.duration
                ):
                    return (rid,), s
        return None

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
            for dim, load in self.D.items():
                load[self.rows[rid], start:e] += getattr(q, dim)
            if self.res[rid].kind == PILOT_LINE:
                starts = self.run_starts.setdefault(rid, [])
                info = self.run_info.setdefault(rid, [])
                i = bisect.bisect_left(starts, start)
                starts.insert(i, start)
                info.insert(i, (e, q.recipe))
        self.placed[q.id] = (resources, start)
        key = (q.tenant, self.prep.klass[q.id])
        self.usage[key] = self.usage.get(key, 0) + q.usage
        if q.cpus or q.memory:
            self.dims[key] = add_dims(self.dims.get(key), q, 1)

    def remove(self, q: Request) -> None:
        resources, start = self.placed.pop(q.id)
        e = start + q.duration
        for rid in resources:
            self.used[rid][start:e] -= q.units
            for dim, load in self.D.items():
                load[self.rows[rid], start:e] -= getattr(q, dim)
            if self.res[rid].kind == PILOT_LINE:
                starts = self.run_starts[rid]
                i = bisect.bisect_left(starts, start)
                while self.run_info[rid][i][0] != e:
                    i += 1
                del starts[i]
                del self.run_info[rid][i]
        key = (q.tenant, self.prep.klass[q.id])
        self.usage[key] -= q.usage
        if q.cpus or q.memory:
            self.dims[key] = add_dims(self.dims.get(key), q, -1)

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
