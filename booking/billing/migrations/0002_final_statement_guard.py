"""A database guard: a final statement and its lines are never updated or deleted, and no line
is added to it (the services refuse first; this catches any other writer)."""

from django.db import migrations

MESSAGE = "billing: a final statement never changes"

SQLITE = [
    f"""CREATE TRIGGER billing_statement_final_update BEFORE UPDATE ON billing_statement
    WHEN OLD.status = 'final' BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER billing_statement_final_delete BEFORE DELETE ON billing_statement
    WHEN OLD.status = 'final' BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER billing_line_final_insert BEFORE INSERT ON billing_statementline
    WHEN (SELECT status FROM billing_statement WHERE id = NEW.statement_id) = 'final'
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER billing_line_final_update BEFORE UPDATE ON billing_statementline
    WHEN (SELECT status FROM billing_statement WHERE id = OLD.statement_id) = 'final'
      OR (SELECT status FROM billing_statement WHERE id = NEW.statement_id) = 'final'
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER billing_line_final_delete BEFORE DELETE ON billing_statementline
    WHEN (SELECT status FROM billing_statement WHERE id = OLD.statement_id) = 'final'
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS billing_statement_final_update",
    "DROP TRIGGER IF EXISTS billing_statement_final_delete",
    "DROP TRIGGER IF EXISTS billing_line_final_insert",
    "DROP TRIGGER IF EXISTS billing_line_final_update",
    "DROP TRIGGER IF EXISTS billing_line_final_delete",
]

POSTGRES = [
    f"""CREATE FUNCTION billing_statement_final_guard() RETURNS trigger AS $$
    BEGIN
      IF OLD.status = 'final' THEN RAISE EXCEPTION '{MESSAGE}'; END IF;
      IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER billing_statement_final_guard BEFORE UPDATE OR DELETE ON billing_statement
    FOR EACH ROW EXECUTE FUNCTION billing_statement_final_guard()""",
    f"""CREATE FUNCTION billing_line_final_guard() RETURNS trigger AS $$
    BEGIN
      IF TG_OP IN ('UPDATE', 'DELETE') AND EXISTS (
        SELECT 1 FROM billing_statement WHERE id = OLD.statement_id AND status = 'final'
      ) THEN RAISE EXCEPTION '{MESSAGE}'; END IF;
      IF TG_OP IN ('INSERT', 'UPDATE') AND EXISTS (
        SELECT 1 FROM billing_statement WHERE id = NEW.statement_id AND status = 'final'
      ) THEN RAISE EXCEPTION '{MESSAGE}'; END IF;
      IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER billing_line_final_guard BEFORE INSERT OR UPDATE OR DELETE
    ON billing_statementline FOR EACH ROW EXECUTE FUNCTION billing_line_final_guard()""",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS billing_line_final_guard ON billing_statementline",
    "DROP FUNCTION IF EXISTS billing_line_final_guard()",
    "DROP TRIGGER IF EXISTS billing_statement_final_guard ON billing_statement",
    "DROP FUNCTION IF EXISTS billing_statement_final_guard()",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRES}),
            _run({"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP}),
        )
    ]
