"""The park's catalogue: locations, resources of three kinds, pools, calendars and trainings."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class Park(models.TextChoices):
    HONG_KONG = "hk", _("Hong Kong")
    SHENZHEN = "sz", _("Shenzhen")


class ResourceKind(models.TextChoices):
    """A resource's kind is also the resource class that quotas are counted in."""

    GPU_NODE = "gpu", _("GPU node")
    PILOT_LINE = "line", _("Pilot line")
    LAB_INSTRUMENT = "instrument", _("Lab instrument")


UNIT_OF_KIND = {
    ResourceKind.GPU_NODE: _("GPU-hours"),
    ResourceKind.PILOT_LINE: _("line-hours"),
    ResourceKind.LAB_INSTRUMENT: _("instrument-hours"),
}


class BookingMode(models.TextChoices):
    INSTANT = "instant", _("Instant: a free slot is confirmed at once")
    ROUND = "round", _("Allocation round: planned fairly at the round's cut-off")


class ApprovalPolicy(models.TextChoices):
    """Whether a booking of a resource waits for approval before it is confirmed."""

    NONE = "none", _("No approval: bookings are confirmed at once")
    ALWAYS = "always", _("Every booking needs approval")
    NEW_RECIPE = "new_recipe", _("A recipe the tenant has not run on this line needs approval")


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class Location(models.Model):
    class Level(models.TextChoices):
        PARK = "park", _("Park")
        BUILDING = "building", _("Building")
        FLOOR = "floor", _("Floor")
        ROOM = "room", _("Room")

    name = models.CharField(_("name"), max_length=120)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("inside"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    park = models.CharField(_("park"), max_length=2, choices=Park.choices)
    biosafety_level = models.PositiveSmallIntegerField(
        _("biosafety level"), null=True, blank=True, help_text=_("BSL 1–4, for rooms only.")
    )

    class Meta:
        ordering = ["park", "name"]
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        constraints = [
            models.CheckConstraint(
                condition=Q(biosafety_level__isnull=True)
                | Q(biosafety_level__gte=1, biosafety_level__lte=4),
                name="location_biosafety_level_1_to_4",
            ),
            models.CheckConstraint(
                condition=Q(parent__isnull=True) | ~Q(parent=F("id")),
                name="location_not_inside_itself",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.path()}"

    def path(self) -> str:
        parts, node, seen = [], self, set()
        while node is not None and node.pk not in seen:
            seen.add(node.pk)
            parts.append(node.name)
            node = node.parent
        return " › ".join(reversed(parts))

    def clean(self) -> None:
        if self.biosafety_level is not None and self.level != self.Level.ROOM:
            raise ValidationError({"biosafety_level": _("Only a room has a biosafety level.")})
        if self.parent_id and self.pk:
            node = self.parent
            while node is not None:
                if node.pk == self.pk:
                    raise ValidationError({"parent": _("A location cannot be inside itself.")})
                node = node.parent


class Training(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    validity_days = models.PositiveIntegerField(
        _("validity (days)"),
        default=365,
        help_text=_("How long a new training record stays valid."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("training")
        verbose_name_plural = _("trainings")
        constraints = [
            models.CheckConstraint(
                condition=Q(validity_days__gt=0), name="training_validity_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TrainingRecord(models.Model):
    """A user holds a training from ``granted_on`` until ``expires_on`` (exclusive)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trainings"
    )
    training = models.ForeignKey(Training, on_delete=models.PROTECT, related_name="records")
    granted_on = models.DateField(_("granted on"))
    expires_on = models.DateField(_("expires on"))

    class Meta:
        ordering = ["user", "training"]
        verbose_name = _("training record")
        verbose_name_plural = _("training records")
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__gt=F("granted_on")),
                name="training_record_expires_after_grant",
                violation_error_message=_("The expiry date must be after the grant date."),
            ),
            models.UniqueConstraint(
                fields=["user", "training", "granted_on"], name="training_record_unique_per_grant"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.training} ({self.granted_on} → {self.expires_on})"

    def clean(self) -> None:
        if self.granted_on and self.expires_on and self.expires_on <= self.granted_on:
            raise ValidationError(
                {"expires_on": _("The expiry date must be after the grant date.")}
            )


class Resource(models.Model):
    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    kind = models.CharField(_("kind"), max_length=12, choices=ResourceKind.choices)
    location = models.ForeignKey(Location, verbose_name=_("location"), on_delete=models.PROTECT)
    description = models.TextField(_("description"), blank=True)
    active = models.BooleanField(_("bookable"), default=True)
    booking_mode = models.CharField(
        _("booking mode"), max_length=8, choices=BookingMode.choices, default=BookingMode.INSTANT
    )
    capacity = models.PositiveSmallIntegerField(
        _("capacity"),
        default=1,
        help_text=_(
            "Units that can be booked at once: GPUs for a GPU node, 1 for a line or instrument."
        ),
    )
    min_notice_minutes = models.PositiveIntegerField(_("minimum notice (minutes)"), default=0)
    horizon_days = models.PositiveIntegerField(_("booking horizon (days)"), default=60)
    min_length_minutes = models.PositiveIntegerField(_("minimum length (minutes)"), default=30)
    max_length_minutes = models.PositiveIntegerField(_("maximum length (minutes)"), default=8 * 60)
    slot_minutes = models.PositiveIntegerField(_("slot granularity (minutes)"), default=30)
    required_training = models.ForeignKey(
        Training,
        verbose_name=_("required training"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="resources",
    )
    approval = models.CharField(
        _("approval"),
        max_length=12,
        choices=ApprovalPolicy.choices,
        default=ApprovalPolicy.NONE,
        help_text=_(
            "A booking that needs approval holds its slot and waits for the approvers; "
            "nobody deciding before its start frees the slot."
        ),
    )
    approvers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approvers"),
        blank=True,
        related_name="approves_resources",
        help_text=_("The resource's responsible staff, who approve or deny its bookings."),
    )
    approval_by_tenant_manager = models.BooleanField(
        _("tenant's managers approve"),
        default=False,
        help_text=_(
            "The booking tenant's managers (the PI) may approve or deny their members' bookings."
        ),
    )

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = _("resource")
        verbose_name_plural = _("resources")
        constraints = [
            models.CheckConstraint(condition=Q(capacity__gte=1), name="resource_capacity_positive"),
            models.CheckConstraint(
                condition=Q(slot_minutes__gte=5), name="resource_slot_at_least_5_min"
            ),
            models.CheckConstraint(
                condition=Q(horizon_days__gte=1), name="resource_horizon_positive"
            ),
            models.CheckConstraint(
                condition=Q(min_length_minutes__gte=1), name="resource_min_length_positive"
            ),
            models.CheckConstraint(
                condition=Q(max_length_minutes__gte=F("min_length_minutes")),
                name="resource_max_length_not_below_min",
            ),
            models.CheckConstraint(
                condition=Q(kind="gpu") | Q(capacity=1), name="resource_only_gpu_nodes_share"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.max_length_minutes < self.min_length_minutes:
            errors["max_length_minutes"] = _(
                "The maximum length must not be below the minimum length."
            )
        if self.kind != ResourceKind.GPU_NODE and self.capacity != 1:
            errors["capacity"] = _(
                "Only a GPU node can be shared; a line or instrument has capacity 1."
            )
        if self.slot_minutes < 5:
            errors["slot_minutes"] = _("The slot granularity must be at least 5 minutes.")
        if errors:
            raise ValidationError(errors)

    @property
    def unit_label(self) -> str:
        return str(UNIT_OF_KIND[ResourceKind(self.kind)])


class GpuNode(models.Model):
    resource = models.OneToOneField(
        Resource, on_delete=models.CASCADE, related_name="gpu", primary_key=True
    )
    gpu_model = models.CharField(_("GPU model"), max_length=40)
    gpu_count = models.PositiveSmallIntegerField(_("GPU count"))
    gpu_memory_gb = models.PositiveIntegerField(_("GPU memory (GB)"))
    cpus = models.PositiveIntegerField(_("CPUs"))
    memory_gb = models.PositiveIntegerField(_("memory (GB)"))
    slurm_cluster = models.CharField(_("Slurm cluster"), max_length=60)
    slurm_partition = models.CharField(_("Slurm partition"), max_length=60)
    slurm_node = models.CharField(_("Slurm node name"), max_length=60)

    class Meta:
        verbose_name = _("GPU node attributes")
        verbose_name_plural = _("GPU node attributes")
        constraints = [
            models.CheckConstraint(
                condition=Q(gpu_count__gte=1),
                name="gpu_node_gpu_count_positive",
                violation_error_message=_("A GPU node has at least one GPU."),
            ),
            models.CheckConstraint(
                condition=Q(gpu_memory_gb__gte=1), name="gpu_node_memory_positive"
            ),
            models.CheckConstraint(condition=Q(cpus__gte=1), name="gpu_node_cpus_positive"),
            models.CheckConstraint(condition=Q(memory_gb__gte=1), name="gpu_node_ram_positive"),
            models.UniqueConstraint(
                fields=["slurm_cluster", "slurm_node"], name="gpu_node_unique_slurm_node"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gpu_count}× {self.gpu_model} ({self.slurm_cluster}/{self.slurm_partition}/{self.slurm_node})"

    def clean(self) -> None:
        if self.gpu_count is not None and self.gpu_count < 1:
            raise ValidationError({"gpu_count": _("A GPU node has at least one GPU.")})


class PilotLine(models.Model):
    resource = models.OneToOneField(
        Resource, on_delete=models.CASCADE, related_name="line", primary_key=True
    )
    process = models.CharField(_("process"), max_length=120, help_text=_("e.g. SiC/GaN epitaxy"))
    min_run_minutes = models.PositiveIntegerField(_("minimum run length (minutes)"), default=240)

    class Meta:
        verbose_name = _("pilot line attributes")
        verbose_name_plural = _("pilot line attributes")
        constraints = [
            models.CheckConstraint(
                condition=Q(min_run_minutes__gte=1), name="pilot_line_min_run_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.process


class Recipe(models.Model):
    line = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="recipes")
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        ordering = ["line", "code"]
        verbose_name = _("process recipe")
        verbose_name_plural = _("process recipes")
        constraints = [
            models.UniqueConstraint(fields=["line", "code"], name="recipe_code_unique_per_line"),
        ]

    def __str__(self) -> str:
        return self.code


class Changeover(models.Model):
    """Time needed on a line between a run of ``from_recipe`` and a run of ``to_recipe``."""

    line = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="changeovers")
    from_recipe = models.ForeignKey(Recipe, on_delete=models.CASCADE, related_name="+")
    to_recipe = models.ForeignKey(Recipe, on_delete=models.CASCADE, related_name="+")
    minutes = models.PositiveIntegerField(_("changeover (minutes)"))

    class Meta:
        ordering = ["line", "from_recipe", "to_recipe"]
        verbose_name = _("changeover")
        verbose_name_plural = _("changeover matrix")
        constraints = [
            models.UniqueConstraint(
                fields=["line", "from_recipe", "to_recipe"],
                name="changeover_unique_per_recipe_pair",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_recipe} → {self.to_recipe}: {self.minutes} min"

    def clean(self) -> None:
        errors = {}
        for field in ("from_recipe", "to_recipe"):
            recipe = getattr(self, field, None) if getattr(self, f"{field}_id") else None
            if recipe is not None and self.line_id and recipe.line_id != self.line_id:
                errors[field] = _("Recipe “%(code)s” is not a recipe of this line.") % {
                    "code": recipe.code
                }
        if errors:
            raise ValidationError(errors)


class WeeklyHours(models.Model):
    """A weekly recurring interval: opening hours of an instrument or a technician shift on a line."""

    class Purpose(models.TextChoices):
        OPENING = "opening", _("Opening hours")
        SHIFT = "shift", _("Technician shift")

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="weekly_hours")
    purpose = models.CharField(
        _("purpose"), max_length=8, choices=Purpose.choices, default=Purpose.OPENING
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens = models.TimeField(_("from"))
    closes = models.TimeField(_("until"))

    class Meta:
        ordering = ["resource", "purpose", "weekday", "opens"]
        verbose_name = _("weekly hours")
        verbose_name_plural = _("opening hours and shifts")
        constraints = [
            models.CheckConstraint(
                condition=Q(closes__gt=F("opens")), name="weekly_hours_close_after_open"
            ),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="weekly_hours_weekday_0_to_6"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"

    def clean(self) -> None:
        if self.opens is not None and self.closes is not None and self.closes <= self.opens:
            raise ValidationError({"closes": _("The closing time must be after the opening time.")})


class Closure(models.Model):
    """A closure of the resources of a location (any depth), of a kind, both, or everything:
    ``bookings.closures.closure_declare`` writes a maintenance window per resource."""

    class Handling(models.TextChoices):
        CANCEL = "cancel", _("Cancel the bookings it covers and offer each owner a new time")
        MOVE = "move", _("Move the bookings it covers to the first free time after it")

    reason = models.CharField(_("reason"), max_length=200)
    handling = models.CharField(
        _("bookings it covers"), max_length=10, choices=Handling.choices, default=Handling.CANCEL
    )
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    location = models.ForeignKey(Location, models.PROTECT, null=True, blank=True, related_name="+")
    kind = models.CharField(_("kind"), max_length=20, choices=ResourceKind.choices, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-start", "-id"]
        verbose_name = _("closure")
        verbose_name_plural = _("closures")
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="closure_ends_after_start")
        ]

    def __str__(self) -> str:
        return f"{self.reason}: {self.start:%Y-%m-%d %H:%M} → {self.end:%Y-%m-%d %H:%M}"


class MaintenanceWindow(models.Model):
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="maintenance")
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    closure = models.ForeignKey(
        Closure, models.CASCADE, null=True, blank=True, related_name="windows"
    )

    class Meta:
        ordering = ["resource", "start"]
        verbose_name = _("maintenance window")
        verbose_name_plural = _("maintenance windows")
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")),
                name="maintenance_ends_after_start",
                violation_error_message=_("A maintenance window must end after it starts."),
            ),
        ]
        indexes = [models.Index(fields=["resource", "start", "end"], name="maintenance_lookup")]

    def __str__(self) -> str:
        return f"{self.resource}: {self.start:%Y-%m-%d %H:%M} → {self.end:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        if self.start and self.end and self.end <= self.start:
            raise ValidationError({"end": _("A maintenance window must end after it starts.")})


class ResourcePool(models.Model):
    """A group of interchangeable resources: "any H100 node", "any confocal"."""

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    kind = models.CharField(_("kind"), max_length=12, choices=ResourceKind.choices)
    members = models.ManyToManyField(Resource, verbose_name=_("members"), related_name="pools")

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = _("resource pool")
        verbose_name_plural = _("resource pools")

    def __str__(self) -> str:
        return self.name


class LabInstrument(models.Model):
    resource = models.OneToOneField(
        Resource, on_delete=models.CASCADE, related_name="instrument", primary_key=True
    )
    instrument_type = models.CharField(
        _("instrument type"), max_length=80, help_text=_("e.g. confocal microscope")
    )
    make_model = models.CharField(_("make and model"), max_length=120, blank=True)

    class Meta:
        verbose_name = _("lab instrument attributes")
        verbose_name_plural = _("lab instrument attributes")

    def __str__(self) -> str:
        return self.instrument_type

    @property
    def biosafety_level(self) -> int | None:
        return self.resource.location.biosafety_level


# The cluster registry (its own module: the catalogue of clusters and their clients).
from resources.clusters import Cluster  # noqa: E402,F401

# The drift reports of park → Slurm reconciliations (their own module, like the registry).
from resources.sync_reports import SlurmSyncReport  # noqa: E402,F401
