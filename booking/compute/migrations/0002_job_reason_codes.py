"""Job reasons become codes with parameters (like booking reasons), rendered in the reader's
language at the edge. Existing rows get their code from the sentence the job services stored
(in English, the site's default language); a text it does not recognise keeps an empty code and
is shown as it is, as before."""

import re

from django.db import migrations, models

PATTERNS = [
    ("cancelled_before_slurm", re.compile(r"^Cancelled before it reached Slurm\.$")),
    ("cancelled", re.compile(r"^Cancelled\.$")),
    ("time_limit", re.compile(r"^The job reached its time limit\.$")),
    ("script_exit", re.compile(r"^The script exited with code (?P<code>-?\d+)\.$")),
    (
        "vanished",
        re.compile(r"^Slurm no longer knows this job; its final state could not be read\.$"),
    ),
    (
        "slurm_refused",
        re.compile(
            r"^Slurm refused the job: (?P<message>.+?)(?: \(Slurm error (?P<error_code>\d+)\))?$",
            re.S,
        ),
    ),
    ("slurm_state", re.compile(r"^(?P<state>[A-Z_]+)(?:: (?P<detail>.*))?$", re.S)),
]


def reason_code_of(text: str) -> tuple[str, dict]:
    """The code and parameters of a reason sentence stored before codes existed."""
    for code, pattern in PATTERNS:
        match = pattern.match(text or "")
        if match is None:
            continue
        params = {k: v for k, v in match.groupdict().items()}
        if code == "script_exit":
            params["code"] = int(params["code"])
        if code == "slurm_refused":
            error = params.get("error_code")
            params["error_code"] = int(error) if error is not None else None
        if code == "slurm_state":
            params["detail"] = params.get("detail") or ""
        return code, params
    return "", {}


def forwards(apps, schema_editor):
    ComputeJob = apps.get_model("compute", "ComputeJob")
    for job in ComputeJob.objects.exclude(reason="").only("pk", "reason").iterator():
        code, params = reason_code_of(job.reason)
        if code:
            ComputeJob.objects.filter(pk=job.pk).update(reason_code=code, reason_params=params)


class Migration(migrations.Migration):
    dependencies = [("compute", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="computejob",
            name="reason_code",
            field=models.CharField(blank=True, max_length=40, verbose_name="reason code"),
        ),
        migrations.AddField(
            model_name="computejob",
            name="reason_params",
            field=models.JSONField(blank=True, default=dict, verbose_name="reason parameters"),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
