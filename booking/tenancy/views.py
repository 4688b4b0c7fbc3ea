"""The managers' members page and the invitation link.

``/tenants/<slug>/members/``: the tenant's members with their role and cluster user name, the
pending invitations and the invite form; changing a role or a cluster user name answers the
members section when asked by htmx (the whole page otherwise); removing a member asks first,
on a page that states what happens to their bookings. A tenant one does not manage: 404.

``/invitations/<token>/``: the invited person accepts — signed in with the invited address, or
new (choosing a user name and password), or told to sign in; a link expired, withdrawn, used or
not valid says so and changes nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from booking.errors import NotFound, ParkError
from booking.ids import plain_pk
from booking.tenancy import invitations, members, selectors
from booking.tenancy.forms import AcceptForm, InviteForm
from booking.tenancy.invitations import LinkState
from booking.tenancy.models import Invitation, Tenant
from booking.tenancy.tasks import invitation_mail_task
from booking.ui import ui_error


def _managed(request: HttpRequest, slug: str) -> Tenant:
    tenant = next((t for t in selectors.managed_tenants(user=request.user) if t.slug == slug), None)
    if tenant is None:
        raise Http404
    return tenant


def _membership(request: HttpRequest, tenant: Tenant, pk: str):
    try:
        return members.membership_get(
            actor=request.user, tenant=tenant, pk=plain_pk(pk, what="member")
        )
    except NotFound:
        raise Http404 from None


def _context(request, tenant: Tenant, **extra) -> dict:
    return {
        "tenant": tenant,
        "members": selectors.members_of(tenant=tenant),
        "invitations": selectors.invitations_pending(tenant=tenant, now=timezone.now()),
        "roles": selectors.role_choices(),
        "invite_ttl_hours": settings.PARK_INVITE_TTL_HOURS,
        "form": extra.pop("form", None) or InviteForm(initial={"language": request.LANGUAGE_CODE}),
        **extra,
    }


def _answer(request, tenant: Tenant, *, notice: str = "", error: ParkError | None = None, **extra):
    """htmx: the members section with the notice or error in it. Otherwise: back to the page
    with the notice, or the page with the error (422)."""
    shown = ui_error(error) if error is not None else None
    if request.htmx:
        context = _context(request, tenant, notice=notice, error=shown, **extra)
        return render(request, "tenancy/_members.html", context)
    if error is not None:
        context = _context(request, tenant, error=shown, **extra)
        return render(request, "tenancy/members.html", context, status=422)
    messages.success(request, notice)
    return redirect("tenancy:members", slug=tenant.slug)


@login_required
@require_http_methods(["GET"])
def members_view(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = _managed(request, slug)
    return render(request, "tenancy/members.html", _context(request, tenant))


@login_required
@require_POST
def invite_view(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = _managed(request, slug)
    form = InviteForm(request.POST)
    if not form.is_valid():
        first = next(iter(form.errors.items()))
        error = ParkError("invalid", first[1][0], field=first[0])
        return _answer(request, tenant, error=error, form=form)
    origin = f"{request.scheme}://{request.get_host()}"
    try:
        with transaction.atomic():
            invitation = invitations.invitation_create(
                actor=request.user, tenant=tenant, **form.cleaned_data
            )
            transaction.on_commit(lambda: invitation_mail_task(invitation.pk, origin))
    except ParkError as error:
        return _answer(request, tenant, error=error, form=form)
    notice = _("Invitation sent to %(email)s.") % {"email": invitation.email}
    return _answer(request, tenant, notice=notice)


@login_required
@require_POST
def revoke_view(request: HttpRequest, slug: str, pk: str) -> HttpResponse:
    tenant = _managed(request, slug)
    invitation = Invitation.objects.filter(
        tenant=tenant, pk=plain_pk(pk, what="invitation")
    ).first()
    if invitation is None:
        raise Http404
    invitations.invitation_revoke(actor=request.user, invitation=invitation)
    notice = _("The invitation to %(email)s is withdrawn.") % {"email": invitation.email}
    return _answer(request, tenant, notice=notice)


@login_required
@require_POST
def role_view(request: HttpRequest, slug: str, pk: str) -> HttpResponse:
    tenant = _managed(request, slug)
    membership = _membership(request, tenant, pk)
    try:
        members.member_set_role(
            actor=request.user, membership=membership, role=request.POST.get("role", "")
        )
    except ParkError as error:
        return _answer(request, tenant, error=error, error_member=membership.pk)
    name = membership.user.get_full_name() or membership.user.username
    return _answer(request, tenant, notice=_("Role of %(name)s saved.") % {"name": name})


@login_required
@require_POST
def cluster_username_view(request: HttpRequest, slug: str, pk: str) -> HttpResponse:
    tenant = _managed(request, slug)
    membership = _membership(request, tenant, pk)
    try:
        result = members.member_set_cluster_username(
            actor=request.user, membership=membership, name=request.POST.get("cluster_username", "")
        )
    except ParkError as error:
        return _answer(request, tenant, error=error, error_member=membership.pk)
    name = membership.user.get_full_name() or membership.user.username
    notice = result.warning or _("Cluster user name of %(name)s saved.") % {"name": name}
    return _answer(request, tenant, notice=notice)


@login_required
@require_http_methods(["GET", "POST"])
def remove_view(request: HttpRequest, slug: str, pk: str) -> HttpResponse:
    tenant = _managed(request, slug)
    membership = _membership(request, tenant, pk)
    name = membership.user.get_full_name() or membership.user.username
    if request.method == "POST":
        try:
            cancelled = members.member_remove(actor=request.user, membership=membership)
        except ParkError as error:
            return _answer(request, tenant, error=error, error_member=membership.pk)
        notice = _("%(name)s was removed; %(count)d future bookings were cancelled.") % {
            "name": name,
            "count": cancelled,
        }
        if membership.user_id == request.user.pk:
            messages.success(request, notice)
            return redirect("home")
        return _answer(request, tenant, notice=notice)
    context = {"tenant": tenant, "membership": membership, "name": name}
    return render(request, "tenancy/remove.html", context)


# ---- the invitation link -------------------------------------------------------------------

_LINK_STATUS = {
    LinkState.INVALID: 404,
    LinkState.EXPIRED: 410,
    LinkState.REVOKED: 410,
    LinkState.ACCEPTED: 409,
}


def _suggested_username(email: str) -> str:
    User = get_user_model()
    base = "".join(c for c in email.split("@")[0] if c.isalnum() or c in "._-")[:30] or "member"
    name, n = base, 1
    while User.objects.filter(username__iexact=name).exists():
        n += 1
        name = f"{base}{n}"
    return name


@require_http_methods(["GET", "POST"])
def invitation_view(request: HttpRequest, token: str) -> HttpResponse:
    check = invitations.invitation_check(token=token)
    invitation = check.invitation
    user = request.user
    if check.state is not LinkState.PENDING:
        if (
            check.state is LinkState.ACCEPTED
            and user.is_authenticated
            and invitation.accepted_by_id == user.pk
        ):
            return redirect("home")
        context = {"state": check.state.value, "invitation": invitation}
        return render(request, "tenancy/invitation.html", context, status=_LINK_STATUS[check.state])
    context = {"state": "pending", "invitation": invitation, "tenant": invitation.tenant}
    if user.is_authenticated:
        if (user.email or "").lower() != invitation.email.lower():
            return render(
                request, "tenancy/invitation.html", {**context, "other_user": True}, status=403
            )
        if request.method == "POST":
            try:
                invitations.invitation_accept(invitation=invitation, user=user)
            except ParkError as error:
                return render(
                    request,
                    "tenancy/invitation.html",
                    {**context, "error": error},
                    status=error.status,
                )
            messages.success(
                request, _("Welcome to %(tenant)s.") % {"tenant": invitation.tenant.name}
            )
            return redirect("home")
        return render(request, "tenancy/invitation.html", context)
    if get_user_model().objects.filter(email__iexact=invitation.email).exists():
        return render(request, "tenancy/invitation.html", {**context, "sign_in": True})
    form = AcceptForm(
        request.POST or None, initial={"username": _suggested_username(invitation.email)}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            new_user = invitations.invitation_accept_new_user(
                invitation=invitation,
                username=data["username"],
                password=data["password1"],
                first_name=data["first_name"],
            )
        except ParkError as error:
            field = {"password": "password1"}.get(error.field, error.field)
            form.add_error(field if field in form.fields else None, error.message)
        else:
            login(request, new_user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request, _("Welcome to %(tenant)s.") % {"tenant": invitation.tenant.name}
            )
            return redirect("home")
    status = 422 if request.method == "POST" else 200
    return render(request, "tenancy/invitation.html", {**context, "form": form}, status=status)
