"""The managers' projects page: a tenant's projects (cost centres) with their principal
investigator, funding code and budget; add one, edit one, archive one (the default project
stays). Another tenant's project, or a tenant one does not manage: 404."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from booking.billing import projects, services
from booking.billing.models import Project
from booking.billing.views import _managed
from booking.errors import NotFound, ParkError
from booking.ids import plain_pk


class ProjectForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "principal_investigator", "funding_code", "budget"]


def _page(request, tenant, form, editing=None, status=200) -> HttpResponse:
    projects = Project.objects.filter(tenant=tenant).order_by("-active", "name")
    context = {"tenant": tenant, "projects": projects, "form": form, "editing": editing}
    return render(request, "billing/projects.html", context, status=status)


def _save(request, tenant, form, project=None) -> HttpResponse | None:
    if not form.is_valid():
        return None
    try:
        if project is None:
            services.project_create(tenant=tenant, **form.cleaned_data)
        else:
            projects.project_update(project=project, **form.cleaned_data)
    except ParkError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return None
    messages.success(request, _("Project saved."))
    return redirect("billing:projects", slug=tenant.slug)


@login_required
@require_http_methods(["GET", "POST"])
def projects_view(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = _managed(request, slug)
    services.default_project(tenant)
    form = ProjectForm(request.POST or None)
    if request.method == "POST":
        done = _save(request, tenant, form)
        return done or _page(request, tenant, form, status=422)
    return _page(request, tenant, form)


@login_required
@require_http_methods(["GET", "POST"])
def project_view(request: HttpRequest, slug: str, pk: str) -> HttpResponse:
    tenant = _managed(request, slug)
    try:
        project = Project.objects.filter(tenant=tenant, pk=plain_pk(pk, what="project")).first()
    except NotFound:
        project = None
    if project is None:
        raise Http404
    if request.method == "POST" and request.POST.get("action") == "archive":
        try:
            projects.project_archive(project=project)
        except ParkError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Project archived."))
        return redirect("billing:projects", slug=tenant.slug)
    form = ProjectForm(request.POST or None, instance=project)
    if request.method == "POST":
        done = _save(request, tenant, form, project)
        return done or _page(request, tenant, form, editing=project, status=422)
    return _page(request, tenant, form, editing=project)
