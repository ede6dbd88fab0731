"""The printed record: custody receipts, auditor reports and destruction certificates.

pdf_document is the reportlab seam (the only module that imports it); receipt and the reports
build on it. The top layer of custody: may import every other. docs/receipts.md.
"""
