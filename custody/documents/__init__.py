"""The printed record: custody receipts, auditor reports and destruction certificates.

`pdf/` is the reportlab seam (the only package that imports it); `receipt` (with its QR payload
and offline check in `receipt_payload`) and the reports in `reports/` build on it. The top
layer of custody: may import every other. docs/receipts.md.
"""
