"""Why a job ended as it did: a stable code with parameters, rendered in the reader's language.

A job stores ``reason_code`` and ``reason_params`` (like a booking's planner reason) plus
``reason``, the text in the site's language for the API and the admin. Pages render the code
again in the reader's language; a code without words here (Slurm's own state and reason, a
refused rule's message) shows the stored text.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override

JOB_REASONS = {
    "cancelled_before_slurm": _("Cancelled before it reached Slurm."),
    "cancelled": _("Cancelled."),
    "time_limit": _("The job reached its time limit."),
    "script_exit": _("The script exited with code %(code)s."),
    "vanished": _("Slurm no longer knows this job; its final state could not be read."),
    "slurm_refused": _("Slurm refused the job: %(message)s"),
    "slurm_id_reissued": _("Slurm job %(id)s was lost by Slurm and its id given to another job."),
}


def job_reason_text(code: str, params: dict | None = None) -> str:
    """The reason in the active language ("" for no code; unknown codes as they are)."""
    if not code:
        return ""
    template = JOB_REASONS.get(code)
    if template is None:
        return code
    params = dict(params or {})
    text = str(template) % params if "%(" in str(template) else str(template)
    if code == "slurm_refused" and params.get("error_code") is not None:
        text += f" (Slurm error {params['error_code']})"
    return text


def job_reason_stored(code: str, params: dict | None = None) -> str:
    """The text kept on the row: in the site's default language, cut to the column."""
    with override(settings.LANGUAGE_CODE):
        return job_reason_text(code, params)[:400]


def job_reason_for(job) -> str:
    """A job's reason in the active language, for pages."""
    if job.reason_code in JOB_REASONS:
        return job_reason_text(job.reason_code, job.reason_params)
    return job.reason
