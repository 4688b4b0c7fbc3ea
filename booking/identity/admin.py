from django.contrib import admin

from booking.identity.models import OidcIdentity


@admin.register(OidcIdentity)
class OidcIdentityAdmin(admin.ModelAdmin):
    """Operators link an operator account to its identity here (e-mail linking skips staff)."""

    list_display = ("user", "issuer", "subject", "email", "email_verified", "last_signed_in_at")
    search_fields = ("user__username", "user__email", "subject", "email")
    list_filter = ("issuer", "email_verified")
    raw_id_fields = ("user",)
    readonly_fields = ("created_at", "last_signed_in_at")
