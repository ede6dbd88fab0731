"""Archival output: PDF/A-2b, made from reportlab's PDF by a pikepdf post-step (XMP metadata
matching the Info dictionary and an sRGB output intent). Part of the reportlab seam
(`custody.documents.pdf`), though it never touches reportlab itself: `document.Document.render`
calls `make_archival` when asked for archival output, and the CLI calls `icc_profile` first
to fail before acting when the profile is missing.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape as _xml_escape

from custody.documents.pdf import PdfError
from custody.documents.pdf.text import plain
from resources import data_lines

if TYPE_CHECKING:
    from custody.documents.pdf.document import DocumentInfo

# sRGB ICC profiles shipped by Debian packages, in order of preference (Makefile and the .deb:
# libgs-common). The list is data: resources/color/srgb-profiles.txt.
ICC_PROFILES = tuple(Path(line) for line in data_lines("color/srgb-profiles.txt"))


def icc_profile() -> bytes:
    override = os.environ.get("REDDOOR_ICC_PROFILE")
    for path in ((Path(override),) if override else ()) + ICC_PROFILES:
        if path.is_file():
            return path.read_bytes()
    raise PdfError(
        "no sRGB ICC profile for archival PDF (install the Debian package libgs-common, "
        "or set REDDOOR_ICC_PROFILE)"
    )


def _xmp(info: DocumentInfo) -> bytes:
    when = info.created_datetime().strftime("%Y-%m-%dT%H:%M:%SZ")

    def x(text: str) -> str:
        return _xml_escape(plain(text))

    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:pdf="http://ns.adobe.com/pdf/1.3/"
    xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">
   <dc:format>application/pdf</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{x(info.title)}</rdf:li></rdf:Alt></dc:title>
   <dc:creator><rdf:Seq><rdf:li>{x(info.author)}</rdf:li></rdf:Seq></dc:creator>
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{x(info.subject)}</rdf:li></rdf:Alt>
   </dc:description>
   <xmp:CreateDate>{when}</xmp:CreateDate>
   <xmp:ModifyDate>{when}</xmp:ModifyDate>
   <xmp:MetadataDate>{when}</xmp:MetadataDate>
   <xmp:CreatorTool>Red Door</xmp:CreatorTool>
   <pdf:Producer>Red Door (reportlab)</pdf:Producer>
   <pdfaid:part>2</pdfaid:part>
   <pdfaid:conformance>B</pdfaid:conformance>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>""".encode()


def make_archival(data: bytes, info: DocumentInfo) -> bytes:
    """PDF/A-2b: XMP metadata matching the Info dictionary, an sRGB output intent, no
    Keywords mismatch, deterministic /ID. reportlab already embeds every font."""
    import pikepdf

    with pikepdf.open(io.BytesIO(data)) as pdf:
        icc = pdf.make_stream(icc_profile())
        icc.N = 3
        intent = pikepdf.Dictionary(
            Type=pikepdf.Name.OutputIntent,
            S=pikepdf.Name.GTS_PDFA1,
            OutputConditionIdentifier=pikepdf.String("sRGB IEC61966-2.1"),
            Info=pikepdf.String("sRGB IEC61966-2.1"),
            DestOutputProfile=icc,
        )
        pdf.Root.OutputIntents = pikepdf.Array([pdf.make_indirect(intent)])
        metadata = pdf.make_stream(_xmp(info))
        metadata.Type = pikepdf.Name.Metadata
        metadata.Subtype = pikepdf.Name.XML
        pdf.Root.Metadata = metadata
        docinfo = pdf.trailer.Info
        for key in ("/Keywords", "/Trapped"):
            if key in docinfo:
                del docinfo[key]
        docinfo.Creator = pikepdf.String("Red Door")
        docinfo.Producer = pikepdf.String("Red Door (reportlab)")
        out = io.BytesIO()
        pdf.save(out, deterministic_id=True, min_version="1.7")
        return out.getvalue()
