"""Tenants, their members, quotas and the audit history of quotas and weights."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from resources.models import Park, ResourceKind


class Tier(models.TextChoices):
    STARTUP = "startup", _("Start-up")
    ENTERPRISE = "enterprise", _("Enterprise")
    ACADEMIC = "academic", _("Academic / institute")


class Period(models.TextChoices):
    WEEK = "week", _("Week")
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")


class Tenant(models.Model):
    name = models.CharField(_("name"), max_length=160, unique=True)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    tier = models.CharField(_("tier"), max_length=12, choices=Tier.choices)
    home_park = models.CharField(_("home park"), max_length=2, choices=Park.choices)
    weight = models.DecimalField(
        _("fair-share weight"),
        max_digits=8,
        decimal_places=3,
        default=1,
        help_text=_(
            "Relative share of contended capacity; entitlement = weight / Σ weights × capacity."
        ),
    )
    slurm_account = models.SlugField(_("Slurm account"), max_length=60, unique=True)
    active = models.BooleanField(_("active"), default=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="tenancy.Membership",
        related_name="tenants",
        verbose_name=_("members"),
    )

    class Meta:
        db_table = "booking_tenant"
        ordering = ["name"]
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
        constraints = [
            models.CheckConstraint(
                condition=Q(weight__gt=0),
                name="tenant_weight_positive",
                violation_error_message=_("A fair-share weight must be above 0."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", _("Member")
        MANAGER = "manager", _("Manager")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=8, choices=Role.choices, default=Role.MEMBER)
    cluster_username = models.CharField(
        _("cluster user name"),
        max_length=60,
        blank=True,
        help_text=_("The user's identity on the compute cluster; needed to submit jobs."),
    )
    joined_at = models.DateTimeField(_("joined"), auto_now_add=True)

    class Meta:
        db_table = "booking_membership"
        ordering = ["tenant", "user"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "tenant"], name="membership_one_per_user_and_tenant"
            ),
            # Within a tenant (one Slurm account) a cluster user name is one person's; across
            # tenants the services keep it to one park user (booking.tenancy.members).
            models.UniqueConstraint(
                fields=["tenant", "cluster_username"],
                condition=~Q(cluster_username=""),
                name="membership_cluster_username_once_per_tenant",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant} ({self.get_role_display()})"


class Invitation(models.Model):
    """A manager's invitation to join a tenant, sent by e-mail as a signed, expiring link.

    The link's token signs ``<pk>.<nonce>`` (``booking.tenancy.invitations``); the row says
    whether it is still good: not expired, not revoked, not accepted yet."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("e-mail"))
    role = models.CharField(
        _("role"), max_length=8, choices=Membership.Role.choices, default=Membership.Role.MEMBER
    )
    language = models.CharField(_("language of the e-mail"), max_length=10, blank=True)
    nonce = models.CharField(max_length=32, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("invited by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created = models.DateTimeField(_("created"), default=timezone.now)
    expires = models.DateTimeField(_("expires"))
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("accepted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    revoked = models.BooleanField(_("revoked"), default=False)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        constraints = [
            models.CheckConstraint(
                condition=Q(expires__gt=models.F("created")),
                name="invitation_expires_after_created",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.tenant}"


class Quota(models.Model):
    """A hard cap on a tenant's hours of one resource class per period."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="quotas")
    resource_class = models.CharField(
        _("resource class"), max_length=12, choices=ResourceKind.choices
    )
    period = models.CharField(_("period"), max_length=8, choices=Period.choices)
    hours = models.DecimalField(_("hours"), max_digits=10, decimal_places=2)

    class Meta:
        db_table = "booking_quota"
        ordering = ["tenant", "resource_class", "period"]
        verbose_name = _("quota")
        verbose_name_plural = _("quotas")
        constraints = [
            models.CheckConstraint(
                condition=Q(hours__gte=0),
                name="quota_hours_not_negative",
                violation_error_message=_("A quota cannot be negative."),
            ),
            models.UniqueConstraint(
                fields=["tenant", "resource_class", "period"],
                name="quota_one_per_tenant_class_period",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant}: {self.hours} h {self.get_resource_class_display()} / {self.get_period_display()}"

    def clean(self) -> None:
        if self.hours is not None and self.hours < 0:
            raise ValidationError({"hours": _("A quota cannot be negative.")})


class QuotaChange(models.Model):
    """Audit history of quota and weight changes: who, when, what, old → new. Append-only."""

    class Field(models.TextChoices):
        QUOTA = "quota", _("Quota")
        WEIGHT = "weight", _("Fair-share weight")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="quota_changes")
    field = models.CharField(_("what"), max_length=8, choices=Field.choices)
    resource_class = models.CharField(
        _("resource class"), max_length=12, choices=ResourceKind.choices, blank=True
    )
    period = models.CharField(_("period"), max_length=8, choices=Period.choices, blank=True)
    old_value = models.DecimalField(
        _("old value"), max_digits=10, decimal_places=3, null=True, blank=True
    )
    new_value = models.DecimalField(
        _("new value"), max_digits=10, decimal_places=3, null=True, blank=True
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("changed at"), auto_now_add=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        db_table = "booking_quotachange"
        ordering = ["-changed_at", "-id"]
        verbose_name = _("quota and weight change")
        verbose_name_plural = _("quota and weight history")

    def __str__(self) -> str:
        return f"{self.tenant} {self.field}: {self.old_value} → {self.new_value}"


class UserLanguage(models.Model):
    """The language a user last used the web UI in: e-mails to them are written in it."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    language = models.CharField(_("language"), max_length=10)

    class Meta:
        verbose_name = _("user language")
        verbose_name_plural = _("user languages")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.language}"
