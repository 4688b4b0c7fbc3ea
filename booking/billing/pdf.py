"""A statement as a PDF for managers (reportlab): the total, the totals per project and the
lines, in the reader's language. Latin text and every figure are in Helvetica; Chinese runs are
set in the CID fonts reportlab ships (STSong-Light for 简体, MSung-Light for 繁體), which need no
font file. A statement of a few hundred lines renders in well under a second, so the page
renders it in the request."""

from __future__ import annotations

import io
import re
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from booking.billing import selectors

CJK = re.compile(r"([\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]+)")
FONTS = {"zh-hans": "STSong-Light", "zh-hant": "MSung-Light"}


def _cjk_font(language: str) -> str:
    name = FONTS.get((language or "").lower(), "MSung-Light")
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(name))
    return name


def _markup(text, font: str) -> str:
    """Paragraph markup: Chinese runs in the CID font, everything else as it is."""
    return "".join(
        f'<font name="{font}">{escape(part)}</font>' if i % 2 else escape(part)
        for i, part in enumerate(CJK.split(str(text)))
    )


def statement_pdf(statement, *, language: str | None = None) -> bytes:
    language = language or translation.get_language() or "en"
    with translation.override(language):
        return _render(statement, _cjk_font(language))


def _render(statement, font: str) -> bytes:
    styles = getSampleStyleSheet()
    body, title = styles["BodyText"], styles["Title"]
    small = styles["BodyText"].clone("small", fontSize=8, leading=10)

    def p(text, style=body):
        return Paragraph(_markup(text, font), style)

    tenant = statement.tenant
    month = f"{statement.month:%Y-%m}"
    story = [
        p(_("Statement of %(name)s, %(month)s") % {"name": tenant.name, "month": month}, title),
        p(
            f"{statement.get_status_display()}"
            + (
                f" · {_('closed')} {statement.closed_at:%Y-%m-%d %H:%M}"
                if statement.closed_at
                else ""
            )
        ),
    ]
    total = f"{_('Total')}: HKD {statement.total}"
    rmb = selectors.in_rmb(statement, statement.total)
    if rmb is not None:
        total += f" (≈ RMB {rmb}, {_('at %(rate)s RMB per HKD') % {'rate': statement.rmb_rate}})"
    story += [p(f"<b>{escape(total)}</b>" if not CJK.search(total) else total), Spacer(1, 4 * mm)]

    story.append(p(_("Per project"), styles["Heading2"]))
    rows = [[p(_("Project")), p(_("Funding code")), p(_("Budget (HKD)")), p(_("Total (HKD)"))]]
    for row in selectors.project_totals(statement):
        budget = "—" if row["budget"] is None else row["budget"]
        rows.append([p(row["project"]), p(row["funding_code"]), p(budget), p(row["total"])])
    story.append(_table(rows, [70 * mm, 40 * mm, 30 * mm, 30 * mm]))

    story.append(p(_("Lines"), styles["Heading2"]))
    rows = [[p(_("Project"), small), p(_("What"), small), p(_("Quantity"), small),
             p(_("Unit price"), small), p(_("Amount (HKD)"), small), p(_("Reason"), small)]]  # fmt: skip
    lines = selectors.statement_lines(statement).order_by("project__name", "kind", "id")
    for line in lines:
        qty = "" if line.kind in ("minimum", "adjustment") else line.quantity
        reason = line.reason + (f" ({line.created_by.get_username()})" if line.created_by else "")
        rows.append(
            [p(line.project.name, small), p(line.description, small), p(qty, small),
             p(line.unit_price or "", small), p(line.amount, small), p(reason, small)]
        )  # fmt: skip
    story.append(_table(rows, [30 * mm, 62 * mm, 20 * mm, 18 * mm, 22 * mm, 28 * mm]))
    start, end = getattr(settings, "BILLING_PEAK_HOURS", (9, 18))
    story += [
        Spacer(1, 4 * mm),
        p(
            _(
                "Peak hours: Monday to Friday %(start)s:00–%(end)s:00 Hong Kong time. Each line "
                "is rounded half-up to cents; the total is the sum of the lines."
            )
            % {"start": start, "end": end},
            small,
        ),
    ]
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"{tenant.slug} {month}",
    )
    doc.build(story)
    return out.getvalue()


def _table(rows, widths) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table
