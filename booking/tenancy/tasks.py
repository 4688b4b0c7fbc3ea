"""Background work of tenancy: the invitation e-mail (never sent inside a web request)."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from huey.contrib.djhuey import db_task

from booking.mail import send_park_mail
from booking.tenancy.invitations import invitation_token
from booking.tenancy.models import Invitation


@db_task()
def invitation_mail_task(invitation_id: int, origin: str) -> int:
    """Send the invitation's link (``origin``: the site's scheme and host, from the request
    that made it) in the language the inviter chose. Nothing for a used or withdrawn one."""
    invitation = (
        Invitation.objects.select_related("tenant", "invited_by")
        .filter(pk=invitation_id, accepted_at__isnull=True, revoked=False)
        .first()
    )
    if invitation is None:
        return 0
    path = reverse("tenancy:invitation", args=[invitation_token(invitation=invitation)])
    inviter = invitation.invited_by
    return send_park_mail(
        to=[invitation.email],
        template="invitation",
        context={
            "invitation": invitation,
            "tenant": invitation.tenant,
            "inviter": (inviter.get_full_name() or inviter.username) if inviter else "",
            "link": origin.rstrip("/") + path,
        },
        language=invitation.language or settings.LANGUAGE_CODE,
    )
