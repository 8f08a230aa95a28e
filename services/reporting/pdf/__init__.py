"""The school profile as a two-page PDF (reportlab, with the Vera fonts it ships)."""

from services.reporting.pdf.render import render_profile_pdf

__all__ = ["render_profile_pdf"]
