"""PDF printouts of customer notices (reportlab), in Chinese or English.

The text is set in reportlab's built-in CJK CID font ``STSong-Light`` (Adobe-GB1: Chinese and
Latin), which PDF readers supply themselves, so no font file is shipped or embedded.
"""
from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from caseflow.notify.documents import Sheet

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

_BODY = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=13, wordWrap="CJK")
_LABEL = ParagraphStyle("label", parent=_BODY, textColor=colors.HexColor("#444444"))
_TITLE = ParagraphStyle("title", fontName=FONT, fontSize=16, leading=20, spaceAfter=2)
_SUB = ParagraphStyle("sub", fontName=FONT, fontSize=10, leading=13, textColor=colors.HexColor("#666666"))
_HEADING = ParagraphStyle("heading", fontName=FONT, fontSize=11, leading=15, spaceBefore=8, spaceAfter=3)
_GRID = TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#999999")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f2f2"))])
_PARTS = TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#999999")),
                     ("VALIGN", (0, 0), (-1, -1), "TOP"),
                     ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f2f2f2"))])
_WIDTH = A4[0] - 36 * mm


def _para(text: str, style: ParagraphStyle = _BODY) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def render(sheet: Sheet) -> bytes:
    """The sheet as an A4 PDF document."""
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                            bottomMargin=16 * mm, title=f"{sheet.title} {sheet.number}".strip(),
                            author="Caseflow", creator="Caseflow", subject=sheet.code)
    story: list[Flowable] = [_para(sheet.title, _TITLE), _para(f"{sheet.other_title} · {sheet.code}", _SUB)]
    for section in sheet.sections:
        story.append(_para(section.heading, _HEADING))
        if section.rows:
            table = Table([[_para(label, _LABEL), _para(text)] for label, text in section.rows],
                          colWidths=[_WIDTH * 0.28, _WIDTH * 0.72])
            table.setStyle(_GRID)
            story.append(table)
        if section.table:
            parts = Table([[_para(cell) for cell in row] for row in section.table],
                          colWidths=[_WIDTH * w for w in (0.18, 0.34, 0.12, 0.18, 0.18)])
            parts.setStyle(_PARTS)
            story.append(parts)
    if sheet.note:
        story += [Spacer(1, 6 * mm), _para(sheet.note)]
    doc.build(story)
    return out.getvalue()
