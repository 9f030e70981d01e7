"""A letter of the print queue as an A4 PDF (ReportLab): the ministry's heading, the address in a window-envelope
position, the date and subject, the text (rendered from its template, which carries the officer's card) and the
reference, in the citizen's language."""

from __future__ import annotations

import io
from datetime import date
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from services.intake.domain import texts
from services.intake.domain.model import Language
from shared.notifications.rendering import format_date

#: The label of the reference line under the text (the text, rendered from its template, already carries
#: the officer's card).
_REFERENCE_LABELS = {Language.FR: "Référence", Language.NL: "Referentie", Language.DE: "Aktenzeichen",
                     Language.EN: "Reference"}


def _lines(text: str) -> str:
    return "<br/>".join(escape(line) for line in text.splitlines())


def letter_pdf(letter: dict[str, Any], *, reference: str, today: date) -> bytes:
    """`letter`: a `print_queue` row (language, address, subject, body, officer)."""
    language = Language(letter["language"])
    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["BodyText"], fontSize=10.5, leading=14)
    small = ParagraphStyle("small", parent=body, fontSize=9, leading=12)
    reference_label = _REFERENCE_LABELS[language]
    story = [
        Paragraph(escape(texts.MINISTRY[language]), styles["Heading3"]),
        Spacer(1, 18 * mm),
        Paragraph(_lines(letter["address"]), body),
        Spacer(1, 14 * mm),
        Paragraph(escape(format_date(today, language.value)), body),
        Spacer(1, 4 * mm),
        Paragraph(f"<b>{escape(letter['subject'])}</b>", body),
        Spacer(1, 6 * mm),
        *[Paragraph(_lines(paragraph), body) for paragraph in letter["body"].split("\n\n") if paragraph.strip()],
        Spacer(1, 10 * mm),
        Paragraph(f"{escape(reference_label)}: {escape(reference)}", small),
    ]
    out = io.BytesIO()
    document = SimpleDocTemplate(out, pagesize=A4, leftMargin=25 * mm, rightMargin=20 * mm, topMargin=20 * mm,
                                 bottomMargin=20 * mm, title=letter["subject"], author=texts.MINISTRY[language],
                                 invariant=True, pageCompression=0)  # uncompressed: greppable, still small
    document.build(story)
    return out.getvalue()
