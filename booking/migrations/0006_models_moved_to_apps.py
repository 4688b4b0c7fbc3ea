"""The models of this app now live in the apps under booking/ (tenancy, bookings, rounds, compute,
tokens), which keep the same tables (``Meta.db_table``). This migration only forgets them here;
the database is untouched. Their initial migrations take them over, also state only."""

from django.db import migrations

# Models that others point at go last.
MOVED = [
    "BookingEvent",
    "ComputeJob",
    "Booking",
    "AllocationRound",
    "ApiToken",
    "IdempotencyRecord",
    "CalendarFeedToken",
    "QuotaChange",
    "Quota",
]


class Migration(migrations.Migration):
    dependencies = [("booking", "0005_calendar_feed_token")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                *(migrations.DeleteModel(name=name) for name in MOVED),
                migrations.RemoveField(model_name="tenant", name="members"),
                migrations.DeleteModel(name="Membership"),
                migrations.DeleteModel(name="Tenant"),
            ],
            database_operations=[],
        )
    ]
