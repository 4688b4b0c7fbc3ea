"""On PostgreSQL, the database itself refuses overlapping bookings of a capacity-1 resource.

SQLite cannot hold such a constraint; there the booking service serialises writers
(SQLite's IMMEDIATE transactions) and checks overlaps itself, as it also does on PostgreSQL.
"""

from django.db import migrations

CREATE = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE booking_booking ADD CONSTRAINT booking_no_overlap_on_exclusive_resource
    EXCLUDE USING gist (resource_id WITH =, tstzrange("start", "end", '[)') WITH &&)
    WHERE (exclusive AND status IN ('confirmed', 'completed'));
"""

DROP = "ALTER TABLE booking_booking DROP CONSTRAINT IF EXISTS booking_no_overlap_on_exclusive_resource;"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("booking", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
