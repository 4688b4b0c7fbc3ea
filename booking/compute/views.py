"""Compute-job pages for members: their jobs, a manager's view of the tenant's jobs, one job with
its output tail, and cancel. Views parse input and call selectors and the job services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from booking.compute.models import LIVE_JOB_STATES, ComputeJob
from booking.compute.reasons import job_reason_for
from booking.compute.selectors import job_get, job_output_tail, jobs_for_tenant, jobs_for_user
from booking.compute.services import job_cancel
from booking.errors import NotFound, ParkError
from booking.formats import duration_text
from booking.tenancy.selectors import managed_tenants
from booking.ui import ui_error

JOBS_PER_PAGE = 25
# Live jobs refresh themselves this often (htmx polling; the pages work without it).
POLL_SECONDS = 5


def _annotate(job: ComputeJob) -> ComputeJob:
    """What the templates show beside the stored fields."""
    job.live = job.state in LIVE_JOB_STATES
    # Whoever may see a job (its owner, the tenant's managers, operators) may cancel it.
    job.cancellable = job.live and not job.cancelling
    job.time_limit_label = duration_text(job.time_limit_minutes)
    job.reason_label = job_reason_for(job)
    return job


def _jobs_page(request: HttpRequest, queryset) -> dict:
    page = Paginator(queryset, JOBS_PER_PAGE).get_page(request.GET.get("page"))
    jobs = [_annotate(job) for job in page.object_list]
    return {
        "page": page,
        "jobs": jobs,
        "poll": any(job.live for job in jobs),
        "poll_seconds": POLL_SECONDS,
    }


def _list(request: HttpRequest, template: str, queryset, context: dict) -> HttpResponse:
    context.update(_jobs_page(request, queryset))
    if request.htmx and request.htmx.target == "jobs":
        return render(request, "booking/_jobs_table.html", context)
    return render(request, template, context)


@login_required
@require_GET
def my_jobs(request: HttpRequest) -> HttpResponse:
    """The user's own compute jobs, newest first, a page at a time."""
    return _list(
        request,
        "booking/my_jobs.html",
        jobs_for_user(user=request.user),
        {"managed": managed_tenants(user=request.user)},
    )


@login_required
@require_GET
def tenant_jobs(request: HttpRequest, slug: str) -> HttpResponse:
    """Every compute job of a tenant the user manages; anyone else gets 404."""
    tenant = next((t for t in managed_tenants(user=request.user) if t.slug == slug), None)
    if tenant is None:
        raise Http404
    try:
        jobs = jobs_for_tenant(user=request.user, tenant=tenant)
    except NotFound:
        raise Http404 from None
    return _list(request, "booking/tenant_jobs.html", jobs, {"tenant": tenant, "show_user": True})


def _job_or_404(request: HttpRequest, pk: str) -> ComputeJob:
    try:
        return job_get(user=request.user, pk=pk)
    except NotFound:
        raise Http404 from None


@login_required
@require_GET
def job_detail(request: HttpRequest, pk: str) -> HttpResponse:
    job = _annotate(_job_or_404(request, pk))
    context = {
        "job": job,
        "output": job_output_tail(job=job),
        "poll": job.live,
        "poll_seconds": POLL_SECONDS,
    }
    if request.htmx and request.htmx.target == "job":
        return render(request, "booking/_job_detail.html", context)
    return render(request, "booking/job_detail.html", context)


@login_required
@require_POST
def job_cancel_view(request: HttpRequest, pk: str) -> HttpResponse:
    """Cancel through the job service: in Slurm, or here when the job never reached it."""
    job = _job_or_404(request, pk)
    try:
        job = job_cancel(user=request.user, job=job)
    except NotFound:
        raise Http404 from None
    except ParkError as error:
        # Already ended, or Slurm unreachable (nothing changed then): say so on the page.
        messages.error(request, ui_error(error)["message"])
    else:
        if job.state in LIVE_JOB_STATES:
            # The cancel is on its way to Slurm; the final state arrives with a follow-up.
            text = _("Slurm is cancelling %(name)s; its final state follows shortly.")
        else:
            text = _("Cancelled: %(name)s.")
        messages.success(request, text % {"name": job.name})
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("job_detail", args=[job.pk])
    return redirect(target)
