"""E-mail through Django's mail framework, rendered from ``templates/email/<name>_subject.txt``
and ``<name>.txt`` in the recipient's language.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation

logger = logging.getLogger(__name__)


def send_park_mail(
    *, to: list[str], template: str, context: dict, language: str | None = None
) -> int:
    """Render ``templates/email/<template>_subject.txt`` and ``<template>.txt`` and send them.

    Returns the number of messages sent (0 when there is no address). A failing mail server is
    logged, never raised: the booking is already stored and the page must not fail for it.
    """
    to = [address for address in to if address]
    if not to:
        return 0
    with translation.override(language or translation.get_language()):
        context = {"site_name": str(settings.SITE_NAME), **context}
        subject = " ".join(render_to_string(f"email/{template}_subject.txt", context).split())
        body = render_to_string(f"email/{template}.txt", context)
    try:
        return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, to)
    except Exception:  # noqa: BLE001 - mail trouble must not undo a stored booking
        logger.exception("could not send %s mail to %s", template, to)
        return 0
