"""Data residency: which classes of data may run on which cluster, per tenant.

The rule (checked before a job is stored; a refusal is ``data_residency``):

* ``open`` — any jurisdiction, unless the tenant's policy keeps open data in Hong Kong too.
* ``hk_only`` and ``personal`` — Hong Kong clusters only (personal data stays under Hong Kong
  law; it does not cross the boundary).
* ``cross_boundary_approved`` — Hong Kong, and the Mainland only while the tenant holds an
  operator's cross-boundary approval that has not expired or been revoked.

On top of the class, a tenant may be limited to some clusters (its policy's allowed clusters;
none listed = every cluster). A job without a data class gets the policy's default
(``hk_only`` when the tenant has no policy): undeclared data never leaves Hong Kong.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from booking import sql
from booking.errors import ParkError
from booking.tenancy.models import Tenant
from resources.clusters import Cluster, Jurisdiction

logger = logging.getLogger(__name__)


class DataClass(models.TextChoices):
    OPEN = "open", gettext_lazy("Open data")
    HK_ONLY = "hk_only", gettext_lazy("Hong Kong only")
    PERSONAL = "personal", gettext_lazy("Personal data")
    CROSS_BOUNDARY_APPROVED = (
        "cross_boundary_approved",
        gettext_lazy("Approved for cross-boundary use"),
    )


DEFAULT_DATA_CLASS = DataClass.HK_ONLY


class TenantDataPolicy(models.Model):
    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="data_policy")
    default_data_class = models.CharField(
        gettext_lazy("default data class"),
        max_length=24,
        choices=DataClass.choices,
        default=DEFAULT_DATA_CLASS,
    )
    open_data_on_mainland = models.BooleanField(
        gettext_lazy("open data may run on the Mainland"), default=True
    )
    allowed_clusters = models.ManyToManyField(
        Cluster,
        blank=True,
        related_name="+",
        verbose_name=gettext_lazy("allowed clusters"),
        help_text=gettext_lazy("None chosen: every cluster."),
    )

    class Meta:
        verbose_name = gettext_lazy("tenant data policy")
        verbose_name_plural = gettext_lazy("tenant data policies")

    def __str__(self) -> str:
        return str(self.tenant)


class CrossBoundaryApproval(models.Model):
    """An operator's approval for a tenant's ``cross_boundary_approved`` data to run on the
    Mainland, until ``expires_at``. Rows are never deleted (the audit trail): revoking sets
    ``revoked_at``/``revoked_by``."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="cross_boundary_approvals"
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    granted_at = models.DateTimeField(gettext_lazy("granted at"), auto_now_add=True)
    expires_at = models.DateTimeField(gettext_lazy("expires at"))
    reference = models.CharField(
        gettext_lazy("reference"),
        max_length=200,
        help_text=gettext_lazy("e.g. the filing or contract number."),
    )
    revoked_at = models.DateTimeField(gettext_lazy("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["-granted_at"]
        verbose_name = gettext_lazy("cross-boundary approval")
        verbose_name_plural = gettext_lazy("cross-boundary approvals")
        indexes = [models.Index(fields=["tenant", "expires_at"], name="cross_boundary_lookup")]

    def __str__(self) -> str:
        return f"{self.tenant} → {self.expires_at:%Y-%m-%d}"


def policy_of(tenant: Tenant) -> TenantDataPolicy | None:
    """The tenant's data policy, or None (read on every job submission: one plain statement,
    ``booking.sql``)."""
    cols, fields = sql.columns_of(TenantDataPolicy, "p")
    row = sql.one_row(
        f"SELECT {cols} FROM {sql.table(TenantDataPolicy)} p "
        f"WHERE p.{sql.column(TenantDataPolicy, 'tenant')} = %s",
        [sql.pk(tenant)],
    )
    return None if row is None else sql.instance(TenantDataPolicy, fields, row, "p")


# "Not read yet": a caller that read the tenant's policy once passes it on (fewer queries per job).
UNREAD = object()


def default_data_class(tenant: Tenant, *, policy=UNREAD) -> str:
    policy = policy_of(tenant) if policy is UNREAD else policy
    return policy.default_data_class if policy else DEFAULT_DATA_CLASS


def allowed_cluster_names(tenant: Tenant, *, policy=UNREAD) -> set[str] | None:
    """The clusters the tenant may use, or None for every cluster."""
    policy = policy_of(tenant) if policy is UNREAD else policy
    if policy is None:
        return None
    names = set(policy.allowed_clusters.values_list("name", flat=True))
    return names or None


def has_cross_boundary_approval(tenant: Tenant, *, now=None) -> bool:
    now = now or timezone.now()
    return CrossBoundaryApproval.objects.filter(
        Q(revoked_at__isnull=True) | Q(revoked_at__gt=now), tenant=tenant, expires_at__gt=now
    ).exists()


def may_run(*, tenant: Tenant, data_class: str, cluster: Cluster, now=None, policy=UNREAD) -> bool:
    """Whether data of ``data_class`` of ``tenant`` may go to ``cluster`` (jurisdiction only)."""
    if cluster.jurisdiction == Jurisdiction.HONG_KONG:
        return True
    if data_class == DataClass.OPEN:
        policy = policy_of(tenant) if policy is UNREAD else policy
        return policy is None or policy.open_data_on_mainland
    if data_class == DataClass.CROSS_BOUNDARY_APPROVED:
        return has_cross_boundary_approval(tenant, now=now)
    return False


def check_residency(
    *, tenant: Tenant, data_class: str, cluster: Cluster, now=None, policy=UNREAD
) -> None:
    """Raise ``data_residency`` (403) when the data may not go to the cluster."""
    if may_run(tenant=tenant, data_class=data_class, cluster=cluster, now=now, policy=policy):
        return
    raise ParkError(
        "data_residency",
        _(
            "%(data_class)s data of %(tenant)s may not run on cluster %(cluster)s "
            "(jurisdiction: %(jurisdiction)s)."
        )
        % {
            "data_class": data_class,
            "tenant": tenant.name,
            "cluster": cluster.name,
            "jurisdiction": cluster.get_jurisdiction_display(),
        },
        field="data_class",
        status=403,
    )


def approval_grant(*, tenant: Tenant, by, expires_at, reference: str) -> CrossBoundaryApproval:
    if expires_at <= timezone.now():
        raise ParkError(
            "approval_expired",
            _("An approval must expire in the future."),
            field="expires_at",
        )
    approval = CrossBoundaryApproval.objects.create(
        tenant=tenant, granted_by=by, expires_at=expires_at, reference=reference
    )
    logger.info(
        "cross-boundary approval %s granted to %s by %s until %s (%s)",
        approval.pk,
        tenant.slug,
        by,
        expires_at,
        reference,
    )
    return approval


def approval_revoke(*, approval: CrossBoundaryApproval, by) -> None:
    now = timezone.now()
    CrossBoundaryApproval.objects.filter(pk=approval.pk, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=by
    )
    logger.info("cross-boundary approval %s of %s revoked by %s", approval.pk, approval.tenant, by)
