from django.contrib import admin

from booking.usage import services
from booking.usage.models import BookingUsage, CheckInRule, LineRun, UsagePolicy


@admin.register(CheckInRule)
class CheckInRuleAdmin(admin.ModelAdmin):
    list_display = ["resource", "check_in_required", "opens_minutes_before", "closes_minutes_after"]
    list_select_related = ["resource"]
    autocomplete_fields = ["resource"]


@admin.register(UsagePolicy)
class UsagePolicyAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "no_show_charged",
        "no_show_weight_penalty",
        "no_show_penalty_days",
        "notify_manager",
        "updated_at",
    ]

    def has_add_permission(self, request):
        # One policy for the park (row 1).
        return not UsagePolicy.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BookingUsage)
class BookingUsageAdmin(admin.ModelAdmin):
    list_display = [
        "booking",
        "source",
        "checked_in_at",
        "checked_out_at",
        "closed_at_end",
        "no_show",
        "used_hours",
        "charged_hours",
    ]
    list_filter = ["source", "no_show", "closed_at_end"]
    raw_id_fields = ["booking", "checked_in_by", "checked_out_by"]
    readonly_fields = ["closed_at"]


@admin.register(LineRun)
class LineRunAdmin(admin.ModelAdmin):
    list_display = ["booking", "technician", "actual_start", "actual_end", "lots", "wafers"]
    raw_id_fields = ["booking"]
    exclude = ["technician"]

    def save_model(self, request, obj, form, change):
        # The technician completing the record is the one saving it; the service charges it.
        services.line_run_complete(
            user=request.user,
            booking=obj.booking,
            actual_start=obj.actual_start,
            actual_end=obj.actual_end,
            recipe=obj.recipe,
            lots=obj.lots,
            wafers=obj.wafers,
            notes=obj.notes,
        )
