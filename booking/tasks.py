"""huey discovers tasks in ``<app>.tasks``; each area keeps its tasks in its own module."""

# --- allocation rounds (booking/round_tasks.py) ---------------------------------------------
# --- compute jobs (booking/job_tasks.py) -----------------------------------------------------
from booking.job_tasks import job_submit_task, jobs_follow_task  # noqa: F401, E402
from booking.round_tasks import round_solve_task, rounds_close_due_task  # noqa: F401
