"""Admin of bookings with their status history (read-only status)."""

from __future__ import annotations

from django.contrib import admin

from booking.bookings.models import Booking, BookingEvent


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
