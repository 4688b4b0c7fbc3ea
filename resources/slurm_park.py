"""Keep Slurm in step with the park: tenant accounts, member associations, GPU-hour limits,
fair-share and reservations for GPU bookings.

The park says what it wants (``WantedState``, built by the provider named in the
``SLURM_WANTED_STATE`` setting from tenants, memberships, quotas and bookings); this module reads
what Slurm has, lists the differences (``Drift``) and, when asked, makes them go away. Each
difference is fixed by one declarative step (the wanted end state, not a delta), so running the
same reconciliation twice changes nothing the second time.

Which path writes what (slurmrestd 22.05 / dbv0.0.38, checked on the dev cluster):

* REST: read nodes, partitions, accounts, associations and reservations; create accounts (with
  their parent) and associations (with fair-share and GrpTRESMins, taken at creation only);
  create users; delete associations and accounts.
* park agent (resources/slurm/agent.py, beside the controller): change fair-share and
  GrpTRESMins of an account that exists (REST answers 200 and keeps the old values), and create,
  update and delete reservations (REST has no endpoint for them).

Only what the park owns is touched: the sub-accounts of the park's parent account and their
associations, and reservations whose name starts with ``RESERVATION_PREFIX``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from resources.slurm import AccountInfo, AssociationInfo, SlurmClient, SlurmError
from resources.slurm.agent_client import AgentClient

log = logging.getLogger(__name__)

RESERVATION_PREFIX = "park_booking_"
SECTIONS = (
    "nodes", "partitions", "accounts", "associations", "limits", "reservations", "runaway jobs",
)  # fmt: skip
# Every job the park sends is named this and its id (``ComputeJob.slurm_name``): how its earlier
# attempts and its runaway jobs are known as the park's.
JOB_NAME_PREFIX = "park-"
# Reservation times closer than this agree (Slurm keeps whole seconds).
TIME_SLACK = timedelta(seconds=2)


def account_name(slug: str) -> str:
    """A tenant's Slurm account: its slug with '-' replaced by '_'."""
    return slug.replace("-", "_")


def fairshare_of(weight) -> int:
    """Slurm's integer fair-share from a tenant's weight: shares = weight × 1000 (weights have
    three decimals, so this is exact; weight 1 = 1000 shares, at least 1)."""
    return max(1, round(float(weight) * 1000))


def reservation_name(booking_id: int) -> str:
    return f"{RESERVATION_PREFIX}{booking_id}"


@dataclass(frozen=True, kw_only=True)
class WantedAccount:
    name: str
    fairshare: int
    gpu_minutes: int | None  # GrpTRESMins gres/gpu; None = no limit
    users: frozenset[str] = frozenset()
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class WantedReservation:
    name: str
    nodes: tuple[str, ...]
    start: datetime
    end: datetime
    accounts: tuple[str, ...]


@dataclass(kw_only=True)
class WantedState:
    parent: str
    accounts: list[WantedAccount] = field(default_factory=list)
    reservations: list[WantedReservation] = field(default_factory=list)


@dataclass(kw_only=True)
class Step:
    """One difference between the park and Slurm, and how to remove it."""

    section: str
    text: str
    fix: Callable[[], object] | None = None  # None: reported only, never changed here


@dataclass(kw_only=True)
class SyncResult:
    applied: bool
    drift: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in SECTIONS})
    done: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in SECTIONS})
    errors: list[str] = field(default_factory=list)
    info: list[str] = field(default_factory=list)

    @property
    def in_step(self) -> bool:
        """Nothing left to change (after the changes this run made) and nothing failed."""
        return not any(self.drift.values()) and not self.errors

    @property
    def drift_count(self) -> int:
        return sum(len(v) for v in self.drift.values())

    def as_dict(self) -> dict:
        return {
            "applied": self.applied,
            "in_step": self.in_step,
            "drift": self.drift,
            "done": self.done,
            "errors": self.errors,
            "info": self.info,
        }

    def as_text(self) -> str:
        lines = list(self.info)
        for title, groups in (("drift", self.drift), ("changed", self.done)):
            for section in SECTIONS:
                for line in groups.get(section, []):
                    lines.append(f"{title} · {section}: {line}")
        lines.extend(f"error: {e}" for e in self.errors)
        if self.in_step:
            lines.append("park and Slurm agree")
        elif not self.applied:
            lines.append("park and Slurm disagree (slurm_sync --apply reconciles)")
        return "\n".join(lines)


def plan(
    wanted: WantedState, *, client: SlurmClient, agent: AgentClient | None, now: datetime
) -> list[Step]:
    """The steps that bring Slurm to ``wanted`` (reads Slurm, changes nothing)."""
    cluster = client.config.cluster or ""
    steps: list[Step] = []
    accounts = {a.name: a for a in client.accounts()}
    associations = [a for a in client.associations() if a.cluster == cluster]
    own = {a.account: a for a in associations if a.user is None}
    users_of: dict[str, set[str]] = {}
    for a in associations:
        if a.user is not None:
            users_of.setdefault(a.account, set()).add(a.user)
    known_users: set[str] | None = None

    if wanted.parent not in own:
        steps.append(
            Step(
                section="accounts",
                text=f"parent account {wanted.parent}: missing",
                fix=_create_parent(client, wanted.parent, cluster, wanted.parent in accounts),
            )
        )

    want_names = {a.name for a in wanted.accounts}
    for want in wanted.accounts:
        have = own.get(want.name)
        if have is None:
            steps.append(
                Step(
                    section="accounts",
                    text=(
                        f"{want.name}: missing (fair-share {want.fairshare}, "
                        f"GrpTRESMins {_limit_text(want.gpu_minutes)})"
                    ),
                    fix=_create_account(
                        client, want, wanted.parent, cluster, want.name in accounts
                    ),
                )
            )
            present: set[str] = set()
        else:
            limit_text = []
            if have.parent_account != wanted.parent:
                limit_text.append(f"parent {have.parent_account} → {wanted.parent}")
            if have.fairshare != want.fairshare:
                limit_text.append(f"fair-share {have.fairshare} → {want.fairshare}")
            if (have.gpu_minutes if have.gpu_minutes is not None else -1) != (
                want.gpu_minutes if want.gpu_minutes is not None else -1
            ):
                limit_text.append(
                    f"GrpTRESMins gres/gpu {_limit_text(have.gpu_minutes)} → "
                    f"{_limit_text(want.gpu_minutes)}"
                )
            if limit_text:
                steps.append(
                    Step(
                        section="limits",
                        text=f"{want.name}: " + ", ".join(limit_text),
                        fix=_need_agent(
                            agent, lambda a=agent, w=want: _set_limits(a, w, wanted.parent)
                        ),
                    )
                )
            present = users_of.get(want.name, set())
        for user in sorted(want.users - present):
            if known_users is None:
                known_users = client.users()
            steps.append(
                Step(
                    section="associations",
                    text=f"{want.name}/{user}: missing",
                    fix=_add_user(client, want.name, user, cluster, wanted.parent, known_users),
                )
            )
        for user in sorted(present - want.users):
            steps.append(
                Step(
                    section="associations",
                    text=f"{want.name}/{user}: in Slurm, not a member with that cluster user name",
                    fix=lambda acc=want.name, u=user: client.delete_association(
                        account=acc, user=u
                    ),
                )
            )

    for name, have in sorted(own.items()):
        if have.parent_account == wanted.parent and name not in want_names:
            steps.append(
                Step(
                    section="accounts",
                    text=f"{name}: under {wanted.parent} but no active tenant has it",
                    fix=lambda n=name: client.delete_account(n),
                )
            )

    steps.extend(_reservation_steps(wanted, client=client, agent=agent, now=now))
    steps.extend(_runaway_steps(wanted, agent=agent))
    return steps


def _runaway_steps(wanted: WantedState, *, agent: AgentClient | None) -> list[Step]:
    """Jobs that slurmdbd still counts as pending or running although slurmctld forgot them (a
    controller crash loses just-submitted jobs so): they hold their association (which then
    cannot be removed) and count against nothing real. Closed through the agent when all of them
    are the park's (sacctmgr closes a cluster's runaway jobs all at once); reported otherwise."""
    if agent is None:
        return []  # read through the agent too; without one, nothing to say
    accounts = sorted({wanted.parent, *(a.name for a in wanted.accounts)})
    try:
        found = agent.runaway_jobs(name_prefix=JOB_NAME_PREFIX, accounts=accounts)["runaway"]
    except SlurmError as error:
        return [Step(section="runaway jobs", text=f"not read through the park agent: {error}")]
    if not found:
        return []
    found = sorted(found, key=lambda j: j["id"])
    ours = [j for j in found if j.get("ours")]
    foreign = [j for j in found if not j.get("ours")]
    ids = ",".join(str(j["id"]) for j in ours)
    steps = []
    if ours:
        text = f"{ids}: {len(ours)} park job(s) live in accounting, unknown to the controller"
        fix = None if foreign else (lambda: _fix_runaway(agent, accounts, {j["id"] for j in ours}))
        steps.append(Step(section="runaway jobs", text=text, fix=fix))
    if foreign:
        others = ",".join(str(j["id"]) for j in foreign)
        text = (
            f"{others}: runaway, not the park's (left to the cluster's operator: sacctmgr closes "
            "all runaway jobs at once, so the park's wait too)"
        )
        steps.append(Step(section="runaway jobs", text=text, fix=None))
    return steps


def _fix_runaway(agent: AgentClient, accounts: list[str], wanted: set[int]) -> None:
    done = agent.runaway_jobs(name_prefix=JOB_NAME_PREFIX, accounts=accounts, fix=True)
    # (one no longer listed was closed meanwhile, by another sync: what counts is what is left)
    still = wanted & {j["id"] for j in done["runaway"]} - set(done["fixed"])
    if still:
        raise SlurmError(f"runaway jobs not closed: {sorted(still)}")


def _reservation_steps(
    wanted: WantedState, *, client: SlurmClient, agent: AgentClient | None, now: datetime
) -> list[Step]:
    steps = []
    have = {r.name: r for r in client.reservations() if r.name.startswith(RESERVATION_PREFIX)}
    for want in wanted.reservations:
        if want.end <= now:
            continue
        current = have.get(want.name)
        fix = _need_agent(agent, lambda a=agent, w=want: _put_reservation(a, w))
        window = f"{want.start:%Y-%m-%d %H:%M}–{want.end:%Y-%m-%d %H:%M} UTC"
        if current is None:
            text = (
                f"{want.name}: missing ({','.join(want.nodes)} {window}, {','.join(want.accounts)})"
            )
            steps.append(Step(section="reservations", text=text, fix=fix))
            continue
        diffs = []
        if set(current.nodes) != set(want.nodes):
            diffs.append(f"nodes {','.join(current.nodes)} → {','.join(want.nodes)}")
        if set(current.accounts) != set(want.accounts):
            diffs.append(f"accounts {','.join(current.accounts)} → {','.join(want.accounts)}")
        started = current.start <= now
        if not started and abs(current.start - max(want.start, now)) > TIME_SLACK:
            diffs.append(
                f"start {current.start:%Y-%m-%d %H:%M:%S} → {want.start:%Y-%m-%d %H:%M:%S}"
            )
        if abs(current.end - want.end) > TIME_SLACK:
            diffs.append(f"end {current.end:%Y-%m-%d %H:%M:%S} → {want.end:%Y-%m-%d %H:%M:%S}")
        if diffs:
            steps.append(
                Step(section="reservations", text=f"{want.name}: " + ", ".join(diffs), fix=fix)
            )
    wanted_names = {w.name for w in wanted.reservations if w.end > now}
    for name in sorted(set(have) - wanted_names):
        steps.append(
            Step(
                section="reservations",
                text=f"{name}: in Slurm, no confirmed booking holds it",
                fix=_need_agent(agent, lambda a=agent, n=name: a.reservation_delete(name=n)),
            )
        )
    return steps


def reconcile(
    wanted: WantedState,
    *,
    client: SlurmClient,
    agent: AgentClient | None,
    apply: bool,
    now: datetime | None = None,
    result: SyncResult | None = None,
) -> SyncResult:
    """Report (and with ``apply`` fix) every difference. A failing step is recorded and the
    others still run; the steps left undone stay in the drift."""
    now = now or datetime.now(UTC)
    result = result or SyncResult(applied=apply)
    try:
        steps = plan(wanted, client=client, agent=agent, now=now)
    except SlurmError as error:
        result.errors.append(f"reading Slurm: {error}")
        return result
    for step in steps:
        if not apply:
            result.drift[step.section].append(step.text)
            continue
        if step.fix is None:
            result.drift[step.section].append(step.text)
            continue
        try:
            step.fix()
        except SlurmError as error:
            log.warning("slurm sync: %s: %s", step.text, error)
            result.errors.append(f"{step.section} · {step.text}: {error}")
            result.drift[step.section].append(step.text)
            continue
        result.done[step.section].append(step.text)
    return result


# --- fixes ---------------------------------------------------------------------------------------


def _limit_text(minutes: int | None) -> str:
    return "none" if minutes is None or minutes < 0 else f"{minutes}"


def _need_agent(agent: AgentClient | None, fix: Callable[[], object]) -> Callable[[], object]:
    def run() -> object:
        if agent is None:
            raise SlurmError("the park agent is not configured (SLURM_AGENT_URL)")
        return fix()

    return run


def _set_limits(agent: AgentClient, want: WantedAccount, parent: str) -> object:
    minutes = want.gpu_minutes if want.gpu_minutes is not None else -1
    return agent.account_limits(
        account=want.name, fairshare=want.fairshare, gpu_minutes=minutes, parent=parent
    )


def _put_reservation(agent: AgentClient, want: WantedReservation) -> object:
    return agent.reservation_put(
        name=want.name,
        nodes=",".join(want.nodes),
        start=int(want.start.timestamp()),
        end=int(want.end.timestamp()),
        accounts=list(want.accounts),
    )


def _create_parent(client: SlurmClient, parent: str, cluster: str, exists: bool):
    def run() -> None:
        if not exists:
            client.add_accounts([AccountInfo(name=parent, description="park tenants")])
        client.add_associations([AssociationInfo(account=parent, user=None, cluster=cluster)])

    return run


def _create_account(
    client: SlurmClient, want: WantedAccount, parent: str, cluster: str, exists: bool
):
    def run() -> None:
        if not exists:
            client.add_accounts(
                [
                    AccountInfo(
                        name=want.name,
                        description=want.description or want.name,
                        organization="park",
                        parent=parent,
                    )
                ]
            )
        # Fair-share and the GPU limit ride on the account's association (taken at creation).
        client.add_associations(
            [
                AssociationInfo(
                    account=want.name,
                    user=None,
                    cluster=cluster,
                    parent_account=parent,
                    fairshare=want.fairshare,
                    gpu_minutes=want.gpu_minutes,
                )
            ]
        )
        users = sorted(want.users)
        if users:
            known = client.users()
            new = [u for u in users if u not in known]
            if new:
                client.add_users(new, default_account=parent)
            client.add_associations(
                [AssociationInfo(account=want.name, user=u, cluster=cluster) for u in users]
            )

    return run


def _add_user(
    client: SlurmClient, account: str, user: str, cluster: str, parent: str, known: set[str]
):
    def run() -> None:
        if user not in known:
            client.add_users([user], default_account=parent)
            known.add(user)
        client.add_associations([AssociationInfo(account=account, user=user, cluster=cluster)])

    return run
