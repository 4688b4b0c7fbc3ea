"""huey discovers tasks in ``<app>.tasks``; each area keeps its tasks in its own module."""

# --- allocation rounds (booking/round_tasks.py) ---------------------------------------------
from booking.round_tasks import round_solve_task, rounds_close_due_task  # noqa: F401
