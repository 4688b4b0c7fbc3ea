"""Forms parse and type the input; the booking rules themselves live in rules and services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from booking.bookings.hooks import project_desk
from booking.bookings.models import BookingStatus
from booking.bookings.recurrence import Recurrence
from booking.errors import ParkError
from booking.tenancy.models import Membership, Tenant
from resources.models import Location, Recipe, Resource, ResourceKind

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]
# Django's blank choice ("---------") is not a translatable string: our selects name theirs.
CHOOSE_TENANT = _("Choose a tenant")
CHOOSE_RECIPE = _("Choose a recipe")


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, *, step_minutes: int = 30):
        super().__init__(format="%Y-%m-%dT%H:%M", attrs={"step": step_minutes * 60})


def _tenant_field(form: forms.Form, tenants: list[Tenant]) -> None:
    field = form.fields["tenant"]
    field.queryset = Tenant.objects.filter(pk__in=[t.pk for t in tenants])
    if len(tenants) == 1:
        field.initial = tenants[0].pk
        field.widget = forms.HiddenInput()


def _project_field(form: forms.Form, tenants: list[Tenant]) -> None:
    """The open projects of the member's tenants (named with their tenant when there are
    several), the default project of the first tenant preselected."""
    rows = project_desk().choices(tenants=tenants)
    names = {t.pk: t.name for t in tenants}
    several = len(tenants) > 1
    field = form.fields["project"]
    field.choices = [
        (pk, f"{names.get(tenant_id, '')}: {name}" if several else name)
        for tenant_id, pk, name, _default in rows
    ]
    defaults = [pk for tenant_id, pk, _name, default in rows if default]
    if defaults:
        field.initial = defaults[0]


def _clean_project(form: forms.Form) -> None:
    """The project chosen must be one of the booking tenant's open projects."""
    data = form.cleaned_data
    tenant, project = data.get("tenant"), data.get("project")
    if tenant is None or project is None:
        return
    try:
        data["project"] = project_desk().check(tenant=tenant, project=project)
    except ParkError as error:
        form.add_error("project", error.message)


def _project_choice() -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=_("Charge to project"),
        coerce=int,
        required=False,
        empty_value=None,
        error_messages={"invalid_choice": _("Choose one of your tenant's open projects.")},
    )


class BookingForm(forms.Form):
    """An instant booking: a concrete slot."""

    tenant = forms.ModelChoiceField(
        queryset=Tenant.objects.none(), label=_("Book for"), empty_label=CHOOSE_TENANT
    )
    project = _project_choice()
    title = forms.CharField(label=_("Title"), max_length=200)
    start = forms.DateTimeField(label=_("Start"), input_formats=DATETIME_FORMATS)
    end = forms.DateTimeField(label=_("End"), input_formats=DATETIME_FORMATS)
    units = forms.IntegerField(label=_("GPUs"), min_value=1, initial=1)
    recipe = forms.ModelChoiceField(
        queryset=Recipe.objects.none(), label=_("Recipe"), required=False, empty_label=CHOOSE_RECIPE
    )
    repeat = forms.ChoiceField(
        label=_("Repeat"),
        required=False,
        choices=[("", _("Does not repeat")), ("daily", _("Daily")), ("weekly", _("Weekly"))],
    )
    repeat_count = forms.IntegerField(
        label=_("Number of occurrences"), required=False, min_value=1, max_value=100
    )
    repeat_until = forms.DateField(
        label=_("or until (date)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    skip_conflicts = forms.BooleanField(
        label=_("Skip occurrences that cannot be booked"), required=False
    )

    def clean(self):
        data = super().clean()
        _clean_project(self)
        return data

    def recurrence(self) -> Recurrence | None:
        """The repeat rule chosen, or ``None`` for a single booking (after ``is_valid``)."""
        data = self.cleaned_data
        if not data.get("repeat"):
            return None
        return Recurrence(
            freq=data["repeat"],
            count=data.get("repeat_count"),
            until=data.get("repeat_until"),
        )

    def __init__(self, *args, resource: Resource, tenants: list[Tenant], **kwargs):
        super().__init__(*args, **kwargs)
        self.resource = resource
        _tenant_field(self, tenants)
        _project_field(self, tenants)
        for name in ("start", "end"):
            self.fields[name].widget = LocalDateTimeInput(step_minutes=resource.slot_minutes)
        if resource.kind == ResourceKind.GPU_NODE:
            self.fields["units"].max_value = resource.capacity
            self.fields["units"].widget.attrs["max"] = resource.capacity
        else:
            del self.fields["units"]
        if resource.kind == ResourceKind.PILOT_LINE:
            self.fields["recipe"].queryset = Recipe.objects.filter(line=resource)
        else:
            del self.fields["recipe"]


class BookingChangeForm(forms.Form):
    """New times for a booking (move, shorten, or end a running one earlier)."""

    start = forms.DateTimeField(label=_("New start"), input_formats=DATETIME_FORMATS)
    end = forms.DateTimeField(label=_("New end"), input_formats=DATETIME_FORMATS)

    def __init__(self, *args, booking, **kwargs):
        super().__init__(*args, **kwargs)
        step = booking.resource.slot_minutes if booking.resource_id else 30
        for name in ("start", "end"):
            self.fields[name].widget = LocalDateTimeInput(step_minutes=step)
            self.fields[name].initial = getattr(booking, name)


class RequestChangeForm(forms.Form):
    """A new window or duration for a round request, before its round's cut-off."""

    earliest_start = forms.DateTimeField(label=_("Earliest start"), input_formats=DATETIME_FORMATS)
    latest_end = forms.DateTimeField(label=_("Latest end"), input_formats=DATETIME_FORMATS)
    duration_hours = forms.DecimalField(
        label=_("Duration (hours)"), min_value=Decimal("0.25"), max_digits=6, decimal_places=2
    )

    def __init__(self, *args, booking, **kwargs):
        super().__init__(*args, **kwargs)
        step = booking.resource.slot_minutes if booking.resource_id else 30
        for name in ("earliest_start", "latest_end"):
            self.fields[name].widget = LocalDateTimeInput(step_minutes=step)
            self.fields[name].initial = getattr(booking, name)
        if booking.duration_minutes:
            self.fields["duration_hours"].initial = Decimal(booking.duration_minutes) / 60


class RoundRequestForm(forms.Form):
    """A request for a round-planned resource: a window and a duration the planner places."""

    tenant = forms.ModelChoiceField(
        queryset=Tenant.objects.none(), label=_("Book for"), empty_label=CHOOSE_TENANT
    )
    project = _project_choice()
    title = forms.CharField(label=_("Title"), max_length=200)
    earliest_start = forms.DateTimeField(label=_("Earliest start"), input_formats=DATETIME_FORMATS)
    latest_end = forms.DateTimeField(label=_("Latest end"), input_formats=DATETIME_FORMATS)
    duration_hours = forms.DecimalField(
        label=_("Duration (hours)"), min_value=Decimal("0.25"), max_digits=6, decimal_places=2
    )
    units = forms.IntegerField(label=_("GPUs"), min_value=1, initial=1)
    # Blank or 0: not stated (the planner then counts the request's GPUs only).
    cpus = forms.IntegerField(label=_("CPUs per node"), min_value=0, initial=0, required=False)
    memory_gb = forms.IntegerField(
        label=_("Memory per node (GB)"), min_value=0, initial=0, required=False
    )
    recipe = forms.ModelChoiceField(
        queryset=Recipe.objects.none(), label=_("Recipe"), required=False, empty_label=CHOOSE_RECIPE
    )

    def __init__(self, *args, resource: Resource, tenants: list[Tenant], **kwargs):
        super().__init__(*args, **kwargs)
        self.resource = resource
        _tenant_field(self, tenants)
        _project_field(self, tenants)
        node = getattr(resource, "gpu", None) if resource.kind == ResourceKind.GPU_NODE else None
        for name in ("cpus", "memory_gb"):
            if node is not None:
                self.fields[name].widget.attrs["max"] = getattr(node, name)
            else:
                # Not offered, but still parsed: a value sent anyway is refused by the rules
                # (``cpus_not_allowed``), not silently dropped.
                self.fields[name].widget = forms.HiddenInput()
        for name in ("earliest_start", "latest_end"):
            self.fields[name].widget = LocalDateTimeInput(step_minutes=resource.slot_minutes)
        self.fields["duration_hours"].widget.attrs["step"] = "0.25"
        if resource.kind == ResourceKind.GPU_NODE:
            self.fields["units"].max_value = resource.capacity
        else:
            del self.fields["units"]
        if resource.kind == ResourceKind.PILOT_LINE:
            self.fields["recipe"].queryset = Recipe.objects.filter(line=resource)
        else:
            del self.fields["recipe"]

    def clean(self):
        data = super().clean()
        _clean_project(self)
        return data

    @property
    def duration_minutes(self) -> int:
        return int(self.cleaned_data["duration_hours"] * 60)

    def vector(self) -> dict[str, int]:
        """CPUs and memory (GB) per node as asked, 0 where not stated (after ``is_valid``)."""
        return {name: self.cleaned_data.get(name) or 0 for name in ("cpus", "memory_gb")}


class CatalogueFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("", _("All kinds")), *ResourceKind.choices], required=False
    )
    location = forms.ModelChoiceField(
        label=_("Location"),
        queryset=Location.objects.filter(level__in=["park", "building"]).order_by("park", "name"),
        required=False,
        empty_label=_("Anywhere"),
    )
    gpu_model = forms.ChoiceField(label=_("GPU model"), required=False)
    free_from = forms.DateTimeField(
        label=_("Free from"),
        required=False,
        input_formats=DATETIME_FORMATS,
        widget=LocalDateTimeInput(step_minutes=30),
    )
    free_to = forms.DateTimeField(
        label=_("until"),
        required=False,
        input_formats=DATETIME_FORMATS,
        widget=LocalDateTimeInput(step_minutes=30),
    )
    trained_only = forms.BooleanField(label=_("Only what my trainings allow"), required=False)

    def __init__(self, *args, gpu_models: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["gpu_model"].choices = [("", _("Any GPU")), *((m, m) for m in gpu_models)]

    def clean(self):
        data = super().clean()
        a, b = data.get("free_from"), data.get("free_to")
        if a and b and b <= a:
            self.add_error("free_to", _("The end of the window must be after its start."))
        if bool(a) != bool(b):
            self.add_error("free_to" if a else "free_from", _("Give both ends of the window."))
        return data


def parse_week(value: str | None, default: dt.date) -> dt.date:
    """A ?week=YYYY-MM-DD parameter; anything unparsable means the default week."""
    try:
        return dt.date.fromisoformat(value) if value else default
    except ValueError:
        return default


class TenantBookingFilters(forms.Form):
    """Filters of a manager's list of the tenant's bookings (GET); every field optional."""

    WHEN_CHOICES = [("", _("Any time")), ("upcoming", _("Upcoming")), ("past", _("Past"))]

    status = forms.ChoiceField(label=_("Status"), required=False)
    member = forms.ChoiceField(label=_("Member"), required=False)
    when = forms.ChoiceField(label=_("When"), choices=WHEN_CHOICES, required=False)

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("Any status")), *BookingStatus.choices]
        members = (
            Membership.objects.filter(tenant=tenant)
            .select_related("user")
            .order_by("user__first_name", "user__username")
        )
        self.fields["member"].choices = [("", _("Any member"))] + [
            (str(m.user_id), m.user.get_full_name() or m.user.username) for m in members
        ]

    def apply(self, qs, *, now):
        data = self.cleaned_data
        if data.get("status"):
            qs = qs.filter(status=data["status"])
        if data.get("member"):
            qs = qs.filter(user_id=int(data["member"]))
        if data.get("when") == "upcoming":
            qs = qs.filter(end__gte=now)
        elif data.get("when") == "past":
            qs = qs.filter(end__lt=now)
        return qs
