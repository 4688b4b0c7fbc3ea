"""Recompute the daily usage tables the reports read from every booking row."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from booking.usage.daily import usage_rebuild


class Command(BaseCommand):
    help = (
        "Recompute the daily usage tables (per resource and per tenant member) from the bookings."
    )

    def handle(self, *args, **options) -> None:
        t0 = time.perf_counter()
        counts = usage_rebuild()
        self.stdout.write(
            f"daily usage rebuilt in {time.perf_counter() - t0:.1f} s: "
            + ", ".join(f"{name} {n} rows" for name, n in counts.items())
        )
