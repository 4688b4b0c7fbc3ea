from django.contrib import admin

from booking.notices.models import Notice, NoticeDigest, NoticePreference


@admin.register(NoticePreference)
class NoticePreferenceAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "delivery",
        "lead_minutes",
        "booking_start",
        "training_expiry",
        "quota",
        "round_cutoff",
        "approval_due",
    )
    search_fields = ("user__username", "user__email")
    raw_id_fields = ("user",)


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "kind",
        "subject_id",
        "threshold",
        "delivery",
        "status",
        "created_at",
        "sent_at",
    )
    list_filter = ("kind", "status", "delivery")
    search_fields = ("user__username",)
    readonly_fields = [f.name for f in Notice._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(NoticeDigest)
class NoticeDigestAdmin(admin.ModelAdmin):
    list_display = ("user", "day", "notices")
    readonly_fields = ("user", "day", "notices", "created_at")

    def has_add_permission(self, request):
        return False
