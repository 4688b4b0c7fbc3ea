"""Admin of allocation rounds; its actions call the same services as the operator pages."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from booking.errors import ParkError
from booking.rounds.lifecycle import round_close
from booking.rounds.models import AllocationRound
from booking.rounds.services import round_publish, round_run_planner


@admin.register(AllocationRound)
class AllocationRoundAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "period_start",
        "period_end",
        "cutoff",
        "status",
        "solved_at",
        "published_at",
    ]
    list_filter = ["status"]
    readonly_fields = ["status", "solved_at", "published_at", "published_by"]
    actions = ["close_rounds", "run_planner", "publish_rounds"]

    def _each(self, request, queryset, service, done):
        # The same services as the operator pages; a refused round is reported, others go on.
        ok = 0
        for rnd in queryset.order_by("pk"):
            try:
                service(allocation_round=rnd, actor=request.user)
            except ParkError as error:
                self.message_user(request, f"{rnd}: {error.message}", messages.ERROR)
            else:
                ok += 1
        if ok:
            self.message_user(request, done % {"count": ok}, messages.SUCCESS)

    @admin.action(description=_("Close the selected rounds for requests"))
    def close_rounds(self, request, queryset):
        self._each(request, queryset, round_close, _("%(count)d rounds closed."))

    @admin.action(description=_("Run the planner on the selected rounds"))
    def run_planner(self, request, queryset):
        self._each(
            request, queryset, round_run_planner, _("The planner runs for %(count)d rounds.")
        )

    @admin.action(description=_("Publish the selected rounds"))
    def publish_rounds(self, request, queryset):
        self._each(request, queryset, round_publish, _("%(count)d rounds published."))
