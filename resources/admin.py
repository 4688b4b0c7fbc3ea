from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from resources.clusters import Cluster
from resources.models import (
    ApprovalPolicy,
    Changeover,
    GpuNode,
    LabInstrument,
    Location,
    MaintenanceWindow,
    PilotLine,
    Recipe,
    Resource,
    ResourcePool,
    SlurmSyncReport,
    Training,
    TrainingRecord,
    WeeklyHours,
)


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["__str__", "level", "park", "biosafety_level"]
    list_filter = ["park", "level", "biosafety_level"]
    search_fields = ["name"]
    autocomplete_fields = ["parent"]


class GpuNodeInline(admin.StackedInline):
    model = GpuNode
    can_delete = False
    extra = 0


class PilotLineInline(admin.StackedInline):
    model = PilotLine
    can_delete = False
    extra = 0


class LabInstrumentInline(admin.StackedInline):
    model = LabInstrument
    can_delete = False
    extra = 0


class RecipeInline(admin.TabularInline):
    model = Recipe
    fk_name = "line"
    extra = 0


class ChangeoverInline(admin.TabularInline):
    model = Changeover
    fk_name = "line"
    extra = 0

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Offer only this line's recipes; clean() refuses another line's recipe anyway.
        if db_field.name in {"from_recipe", "to_recipe"}:
            line_id = (
                request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            )
            kwargs["queryset"] = (
                Recipe.objects.filter(line_id=line_id) if line_id else Recipe.objects.none()
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class WeeklyHoursInline(admin.TabularInline):
    model = WeeklyHours
    extra = 0


class MaintenanceInline(admin.TabularInline):
    model = MaintenanceWindow
    extra = 0


class ResourceForm(forms.ModelForm):
    class Meta:
        model = Resource
        fields = ["approval", "approvers", "approval_by_tenant_manager"]  # the admin adds the rest

    def clean(self):
        data = super().clean()
        # The approvers are a many-to-many field, so the model's clean() cannot see them.
        needs = data.get("approval") not in (None, "", ApprovalPolicy.NONE)
        if needs and not data.get("approvers") and not data.get("approval_by_tenant_manager"):
            self.add_error(
                "approvers",
                _(
                    "A resource that needs approval needs someone to approve: name its "
                    "approvers or let the tenant's managers approve."
                ),
            )
        return data


@admin.register(Resource)
class ResourceAdmin(admin.ModelAdmin):
    form = ResourceForm
    list_display = [
        "name",
        "kind",
        "location",
        "booking_mode",
        "capacity",
        "required_training",
        "approval",
        "active",
    ]
    list_filter = ["kind", "booking_mode", "approval", "active", "location__park"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["location", "required_training"]
    filter_horizontal = ["approvers"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "kind", "location", "description", "active"]}),
        (
            _("Booking rules"),
            {
                "fields": [
                    "booking_mode",
                    "capacity",
                    "required_training",
                    "min_notice_minutes",
                    "horizon_days",
                    "min_length_minutes",
                    "max_length_minutes",
                    "slot_minutes",
                ]
            },
        ),
        (_("Approval"), {"fields": ["approval", "approvers", "approval_by_tenant_manager"]}),
    ]

    def get_inlines(self, request, obj):
        kind_inlines = {
            "gpu": [GpuNodeInline],
            "line": [PilotLineInline, RecipeInline, ChangeoverInline, WeeklyHoursInline],
            "instrument": [LabInstrumentInline, WeeklyHoursInline],
        }
        return [*kind_inlines.get(obj.kind if obj else "", []), MaintenanceInline]


@admin.register(ResourcePool)
class ResourcePoolAdmin(admin.ModelAdmin):
    list_display = ["name", "kind"]
    list_filter = ["kind"]
    search_fields = ["name"]
    filter_horizontal = ["members"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(admin.ModelAdmin):
    list_display = ["resource", "start", "end", "reason"]
    list_filter = ["resource__kind"]
    date_hierarchy = "start"
    autocomplete_fields = ["resource"]


@admin.register(Training)
class TrainingAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "validity_days"]
    search_fields = ["name", "code"]


@admin.register(TrainingRecord)
class TrainingRecordAdmin(admin.ModelAdmin):
    list_display = ["user", "training", "granted_on", "expires_on"]
    list_filter = ["training"]
    search_fields = ["user__username", "user__email"]
    autocomplete_fields = ["user", "training"]


@admin.register(SlurmSyncReport)
class SlurmSyncReportAdmin(admin.ModelAdmin):
    """The park → Slurm drift reports (manage.py slurm_sync and the periodic task); read only."""

    list_display = ["created_at", "applied", "in_step", "drift_count", "error_count", "trigger"]
    list_filter = ["applied", "in_step"]
    readonly_fields = [
        "created_at",
        "applied",
        "in_step",
        "drift_count",
        "error_count",
        "trigger",
        "text",
        "report",
    ]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = ["name", "jurisdiction", "state", "usage", "gpu_rate_factor", "rest_url"]
    list_filter = ["jurisdiction", "state", "usage"]
