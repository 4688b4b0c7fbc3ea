"""Billing: projects (cost centres) of a tenant, versioned rate cards, cluster factors, and
monthly statements with their lines.

Money is ``Decimal`` in HKD with two decimals. Bookings and jobs carry a project through the
link tables ``BookingProject`` / ``JobProject`` (the booking and job models belong to their own
apps); a booking or job without a link is charged to its tenant's default project.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from booking.bookings.models import Booking
from booking.compute.models import ComputeJob
from booking.tenancy.models import Tenant, Tier
from resources.models import Resource, ResourceKind

MONEY = {"max_digits": 14, "decimal_places": 2}


class Project(models.Model):
    """A tenant's cost centre. Exactly one default project per tenant (created on demand)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(_("name"), max_length=120)
    principal_investigator = models.CharField(_("principal investigator"), max_length=120)
    funding_code = models.CharField(_("funding code"), max_length=60, blank=True)
    budget = models.DecimalField(_("budget (HKD)"), null=True, blank=True, **MONEY)
    is_default = models.BooleanField(_("default project"), default=False)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("project")
        verbose_name_plural = _("projects")
        ordering = ["tenant", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="billing_project_name_unique"),
            models.UniqueConstraint(
                fields=["tenant"], condition=Q(is_default=True), name="billing_one_default_project"
            ),
            models.CheckConstraint(
                condition=Q(budget__isnull=True) | Q(budget__gte=0),
                name="billing_project_budget_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant.slug}/{self.name}"


class BookingProject(models.Model):
    booking = models.OneToOneField(Booking, on_delete=models.CASCADE, related_name="billing_link")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="booking_links")

    class Meta:
        verbose_name = _("booking's project")
        verbose_name_plural = _("bookings' projects")

    def __str__(self) -> str:
        return f"booking {self.booking_id} → project {self.project_id}"


class JobProject(models.Model):
    job = models.OneToOneField(ComputeJob, on_delete=models.CASCADE, related_name="billing_link")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="job_links")

    class Meta:
        verbose_name = _("job's project")
        verbose_name_plural = _("jobs' projects")

    def __str__(self) -> str:
        return f"job {self.job_id} → project {self.project_id}"


class RateUnit(models.TextChoices):
    HOUR = "hour", _("per hour")
    RUN = "run", _("per run")
    GPU_HOUR = "gpu_hour", _("per GPU-hour")


class RateCard(models.Model):
    """The price of a resource (or of every resource of a class) for one tenant tier, valid
    from a date until the next version's date. A version is never edited: a change is a new
    version with a later ``valid_from`` (``services.rate_card_publish``; the admin only adds).

    Peak and off-peak prices: see ``charges.PEAK`` for the peak hours. ``minimum_charge`` is
    the least one booking costs; ``no_show_per_hour`` is charged per booked hour of a no-show;
    ``consumable_price`` is per wafer of a line run, shown as its own line.
    """

    resource_class = models.CharField(
        _("resource class"), max_length=12, choices=ResourceKind.choices, blank=True
    )
    resource = models.ForeignKey(
        Resource, null=True, blank=True, on_delete=models.PROTECT, related_name="rate_cards"
    )
    tier = models.CharField(_("tenant tier"), max_length=12, choices=Tier.choices)
    unit = models.CharField(_("unit"), max_length=10, choices=RateUnit.choices)
    peak_price = models.DecimalField(_("peak price (HKD)"), **MONEY)
    off_peak_price = models.DecimalField(_("off-peak price (HKD)"), **MONEY)
    minimum_charge = models.DecimalField(_("minimum charge (HKD)"), default=0, **MONEY)
    no_show_per_hour = models.DecimalField(_("no-show charge per hour (HKD)"), default=0, **MONEY)
    consumable_name = models.CharField(_("consumable"), max_length=60, blank=True)
    consumable_price = models.DecimalField(
        _("consumable price per wafer (HKD)"), default=0, **MONEY
    )
    valid_from = models.DateField(_("valid from"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("rate card")
        verbose_name_plural = _("rate cards")
        ordering = ["resource_class", "resource", "tier", "-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(resource__isnull=True) & ~Q(resource_class=""))
                | (Q(resource__isnull=False) & Q(resource_class="")),
                name="billing_rate_card_class_or_resource",
            ),
            models.UniqueConstraint(
                fields=["resource_class", "tier", "valid_from"],
                condition=Q(resource__isnull=True),
                name="billing_rate_card_class_version_unique",
            ),
            models.UniqueConstraint(
                fields=["resource", "tier", "valid_from"],
                condition=Q(resource__isnull=False),
                name="billing_rate_card_resource_version_unique",
            ),
            models.CheckConstraint(
                condition=Q(peak_price__gte=0)
                & Q(off_peak_price__gte=0)
                & Q(minimum_charge__gte=0)
                & Q(no_show_per_hour__gte=0)
                & Q(consumable_price__gte=0),
                name="billing_rate_card_prices_not_negative",
            ),
        ]

    def __str__(self) -> str:
        what = self.resource.slug if self.resource_id else self.resource_class
        return f"{what} × {self.tier} from {self.valid_from}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValueError("A rate card version is never changed: publish a new version.")
        super().save(*args, **kwargs)


class ClusterFactor(models.Model):
    """A factor on GPU-hour prices of one Slurm cluster (e.g. the GBA hub). Missing: 1."""

    cluster = models.CharField(_("Slurm cluster"), max_length=60, unique=True)
    factor = models.DecimalField(_("factor"), max_digits=6, decimal_places=3)

    class Meta:
        verbose_name = _("cluster rate factor")
        verbose_name_plural = _("cluster rate factors")
        constraints = [
            models.CheckConstraint(
                condition=Q(factor__gt=0), name="billing_cluster_factor_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.cluster} × {self.factor}"


class StatementStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    FINAL = "final", _("Final")


class Statement(models.Model):
    """A tenant's statement of one month (``month`` is its first day). A draft follows usage
    (refreshed from usage records); once final it never changes (service and DB triggers)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="statements")
    month = models.DateField(_("month"))
    status = models.CharField(
        _("status"), max_length=8, choices=StatementStatus.choices, default=StatementStatus.DRAFT
    )
    total = models.DecimalField(_("total (HKD)"), default=0, **MONEY)
    rmb_rate = models.DecimalField(
        _("RMB per HKD"), max_digits=10, decimal_places=6, null=True, blank=True
    )
    refreshed_at = models.DateTimeField(_("refreshed"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("statement")
        verbose_name_plural = _("statements")
        ordering = ["-month", "tenant"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "month"], name="billing_statement_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant.slug} {self.month:%Y-%m}"

    @property
    def is_final(self) -> bool:
        return self.status == StatementStatus.FINAL


class LineKind(models.TextChoices):
    USAGE = "usage", _("Usage")
    MINIMUM = "minimum", _("Minimum charge")
    NO_SHOW = "no_show", _("No-show")
    CONSUMABLE = "consumable", _("Consumables")
    JOBS = "jobs", _("Compute jobs")
    ADJUSTMENT = "adjustment", _("Adjustment")


class StatementLine(models.Model):
    """One line: ``amount`` = ``quantity`` × ``unit_price`` rounded half-up to cents (a
    minimum-charge top-up or an adjustment states its amount). Adjustments say who and why."""

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="lines")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=10, choices=LineKind.choices)
    description = models.CharField(_("description"), max_length=200)
    resource = models.ForeignKey(
        Resource, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    band = models.CharField(_("band"), max_length=8, blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=4, default=0)
    unit_price = models.DecimalField(_("unit price (HKD)"), default=0, **MONEY)
    amount = models.DecimalField(_("amount (HKD)"), **MONEY)
    items = models.PositiveIntegerField(_("bookings or jobs"), default=0)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    corrects = models.ForeignKey(
        Statement, null=True, blank=True, on_delete=models.PROTECT, related_name="corrections"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("statement line")
        verbose_name_plural = _("statement lines")
        ordering = ["statement", "project", "kind", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="adjustment") | ~Q(reason=""),
                name="billing_adjustment_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.statement}: {self.description} {self.amount}"
