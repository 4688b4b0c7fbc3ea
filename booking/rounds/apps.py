from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RoundsConfig(AppConfig):
    name = "booking.rounds"
    label = "rounds"
    verbose_name = _("Allocation rounds")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # bookings never imports rounds; rounds plugs its parts in here (booking.bookings.hooks).
        from booking.bookings.hooks import on_booking_cancelled, register_round_desk
        from booking.bookings.reasons import register_reason_renderer
        from booking.rounds.desk import RoundDesk, replan_after_cancel
        from booking.rounds.reasons import REASON_TEXTS, round_reason_for

        register_round_desk(RoundDesk())
        on_booking_cancelled(replan_after_cancel)
        register_reason_renderer(REASON_TEXTS, round_reason_for)
