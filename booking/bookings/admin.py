"""Admin of bookings with their status history (read-only status)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext as _

from booking.bookings.closures import closure_declare
from booking.bookings.models import Booking, BookingEvent
from resources.models import Closure


class BookingEventInline(admin.TabularInline):
    model = BookingEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "from_status", "to_status", "actor", "note"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    list_display = ["title", "tenant", "user", "resource", "start", "end", "status", "reason_code"]
    list_filter = ["status", "resource__kind", "round"]
    search_fields = ["title", "tenant__name", "user__username"]
    date_hierarchy = "start"
    readonly_fields = ["status", "reason_code", "reason_text"]
    inlines = [BookingEventInline]
    list_select_related = ["tenant", "user", "resource"]


@admin.register(Closure)
class ClosureAdmin(admin.ModelAdmin):
    """Operators declare a closure here; saving it closes the resources and cancels or moves
    the bookings it covers with notice (``bookings.closures``). A closure is not edited after."""

    list_display = ["reason", "start", "end", "location", "kind", "handling", "created_at"]
    fields = ["reason", "start", "end", "location", "kind", "handling"]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        result = closure_declare(
            actor=request.user,
            reason=obj.reason,
            start=obj.start,
            end=obj.end,
            location=obj.location,
            kind=obj.kind,
            handling=obj.handling,
        )
        obj.pk = result.closure.pk
        obj.created_at = result.closure.created_at
        self.message_user(
            request,
            _(
                "Closed %(resources)s resources; %(bookings)s bookings cancelled and %(moved)s "
                "moved, with notice."
            )
            % {
                "resources": len(result.resources),
                "bookings": len(result.cancelled),
                "moved": len(result.moved),
            },
        )
