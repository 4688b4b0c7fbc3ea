"""A tenant's managers manage its members: their role, their cluster user name, removing them.

Every function takes the acting user and refuses (404) anyone but a manager of the tenant or an
operator. A membership's save and delete are what ask Slurm to reconcile (the account's
associations: ``booking.compute.slurm_hooks``), so the changes here go through ``save`` and
``delete`` of the row, never a bulk update.

Rules:
- A tenant keeps at least one manager: the last one cannot be made a member or removed
  (``last_manager``), not even by themselves.
- A cluster user name is a Slurm/POSIX user name (``CLUSTER_USERNAME_RE``); it belongs to one
  park user (the same person may use it in several tenants, nobody else may); when a cluster is
  configured it must be a user Slurm knows, unless Slurm does not answer — then it is stored
  with a warning.
- Removing a member: see ``booking.bookings.leaving`` for their bookings (registered through
  ``booking.tenancy.hooks``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.errors import Conflict, NotFound, ParkError
from booking.tenancy.access import require_manager
from booking.tenancy.hooks import member_leaving
from booking.tenancy.models import Membership, Tenant
from resources.cluster_users import UserLookup, cluster_user_lookup

CLUSTER_USERNAME_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class ClusterNameResult:
    membership: Membership
    warning: str = ""


def membership_get(*, actor, tenant: Tenant, pk: int) -> Membership:
    """One membership of ``tenant`` for its manager; anything else: ``NotFound``."""
    require_manager(user=actor, tenant=tenant)
    found = Membership.objects.select_related("user").filter(tenant=tenant, pk=pk).first()
    if found is None:
        raise NotFound("member", field="member")
    return found


def _refuse_if_last_manager(*, membership: Membership) -> None:
    # Called with the tenant's manager rows locked, so two managers demoting each other at
    # once cannot both succeed.
    if membership.role != Membership.Role.MANAGER:
        return
    managers = list(
        Membership.objects.select_for_update()
        .filter(tenant_id=membership.tenant_id, role=Membership.Role.MANAGER)
        .values_list("pk", flat=True)
    )
    if managers == [membership.pk]:
        raise Conflict(
            "last_manager",
            _(
                "A tenant keeps at least one manager: make another member a manager before "
                "this one stops being one."
            ),
            field="role",
        )


def member_set_role(*, actor, membership: Membership, role: str) -> Membership:
    """Make a member a manager or a manager a member (``last_manager`` keeps one)."""
    require_manager(user=actor, tenant=membership.tenant)
    if role not in Membership.Role.values:
        raise ParkError(
            "role_invalid",
            _("Choose a role: %(roles)s.") % {"roles": ", ".join(map(str, Membership.Role.labels))},
            field="role",
        )
    with transaction.atomic():
        locked = Membership.objects.select_for_update().get(pk=membership.pk)
        if locked.role == role:
            return locked
        if role != Membership.Role.MANAGER:
            _refuse_if_last_manager(membership=locked)
        locked.role = role
        locked.save(update_fields=["role"])
    return locked


def cluster_username_check(*, membership: Membership, name: str) -> None:
    """The pattern and the one-person rule for ``name`` (already stripped, not empty)."""
    if not CLUSTER_USERNAME_RE.match(name):
        raise ParkError(
            "cluster_username_invalid",
            _(
                "A cluster user name is 1 to 32 characters: lower-case letters, digits, '_' "
                "and '-', starting with a letter or '_'."
            ),
            field="cluster_username",
        )
    taken = (
        Membership.objects.filter(cluster_username=name)
        .exclude(user_id=membership.user_id)
        .exists()
    )
    if taken:
        raise Conflict(
            "cluster_username_taken",
            _("The cluster user name %(name)s belongs to another person."),
            params={"name": name},
            field="cluster_username",
        )


def member_set_cluster_username(*, actor, membership: Membership, name: str) -> ClusterNameResult:
    """Set (or clear, with "") a member's cluster user name, checked against Slurm when a
    cluster is configured (see the module's rules). Slurm is asked before any row is locked."""
    require_manager(user=actor, tenant=membership.tenant)
    name = (name or "").strip()
    warning = ""
    if name:
        cluster_username_check(membership=membership, name=name)
        lookup = cluster_user_lookup(name=name)
        if lookup is UserLookup.UNKNOWN:
            raise ParkError(
                "cluster_user_unknown",
                _(
                    "%(name)s is not a user of the cluster; the cluster's administrators "
                    "create cluster users."
                ),
                params={"name": name},
                field="cluster_username",
            )
        if lookup is UserLookup.UNREACHABLE:
            warning = _(
                "Saved, but the cluster did not answer, so %(name)s could not be checked; "
                "jobs fail if the cluster does not know it."
            ) % {"name": name}
    with transaction.atomic():
        locked = Membership.objects.select_for_update().get(pk=membership.pk)
        if name:
            cluster_username_check(membership=locked, name=name)
        if locked.cluster_username != name:
            locked.cluster_username = name
            locked.save(update_fields=["cluster_username"])
    return ClusterNameResult(membership=locked, warning=warning)


def member_remove(*, actor, membership: Membership, now: dt.datetime | None = None) -> int:
    """Remove a member from the tenant. Their bookings not yet started are handled by the
    registered rule (``booking.bookings.leaving``: cancelled with notice, the time offered to
    the waitlist) in the same transaction; Slurm drops their association on the next
    reconciliation, which the removal asks for. Returns how many bookings were cancelled."""
    require_manager(user=actor, tenant=membership.tenant)
    now = now or timezone.now()
    with transaction.atomic():
        locked = Membership.objects.select_for_update().filter(pk=membership.pk).first()
        if locked is None:
            raise NotFound("member", field="member")
        _refuse_if_last_manager(membership=locked)
        handled = member_leaving(
            user_id=locked.user_id, tenant_id=locked.tenant_id, actor=actor, now=now
        )
        locked.delete()
    return handled
