from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BookingsConfig(AppConfig):
    name = "booking.bookings"
    label = "bookings"
    verbose_name = _("Bookings")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Bookings hold quota hours: tenancy sums them with the other usage sources.
        from booking.bookings.selectors import booking_hours_held
        from booking.tenancy.usage import register_usage_source

        register_usage_source(booking_hours_held)

        # A booking cancelled by a park-wide closure: its reason in the reader's language.
        from booking.bookings import closures

        closures.register()

        # Waiting for approval, approved, denied, expired: in the reader's language.
        from booking.bookings import approval

        approval.register()

        # A member removed by their manager: their bookings not yet started are cancelled.
        from booking.bookings import leaving

        leaving.register()
