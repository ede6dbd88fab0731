"""Tests of receipts, reports and the PDF seam."""
