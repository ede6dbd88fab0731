"""The reportlab seam: fonts, escaping, page numbers, chunked tables, determinism, PDF/A-2b."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pikepdf
import pytest

from custody.documents.pdf import document as pdf
from custody.documents.pdf.text import markup, plain

HOSTILE = ['<img src="/etc/passwd"/>', "<font name='Helvetica'>x</font>", "a & b <b>"]


def _text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "t.pdf"
    path.write_bytes(data)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout


def _every_element(banner: str | None = "LEDGER DID NOT VERIFY") -> pdf.Document:
    info = pdf.DocumentInfo(
        title="Every element",
        created="2026-03-01T09:30:00Z",
        footer="footer text",
        banner=banner,
        banner_note="the report says so on its first page",
        page_mark="PRACTICE",
    )
    doc = pdf.Document(info)
    doc.title("Title", "subtitle")
    doc.heading("Heading")
    doc.paragraph("Body " + HOSTILE[0])
    doc.key_values([("Officer", HOSTILE[0]), ("Style", HOSTILE[1])])
    doc.fingerprint("SHA-256", "ab" * 32, ["apple", "pony"] * 4)
    doc.signature_lines([[HOSTILE[0], "officer"], ["bob", HOSTILE[1]]])
    doc.qr_code("RDR1:HELLO", ["caption " + HOSTILE[2]])
    doc.bar_chart(["2026-01", "2026-02"], [("w2f", [1, 2]), ("f2w", [3, 1])])
    doc.table(["a", "b"], [[HOSTILE[0], HOSTILE[1]]])
    doc.table(["a", "b"], [[HOSTILE[2], "plain"]], wrap=False)
    return doc


def _fonts(data: bytes) -> dict[str, bool]:
    """BaseFont name -> embedded, over every page and form XObject."""
    out: dict[str, bool] = {}

    def walk(resources: pikepdf.Dictionary) -> None:
        for font in (resources.get("/Font") or {}).values():
            desc = font.get("/FontDescriptor")
            embedded = desc is not None and any(
                k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3")
            )
            out[str(font.BaseFont)] = embedded
        for xobj in (resources.get("/XObject") or {}).values():
            if xobj.get("/Subtype") == "/Form" and "/Resources" in xobj:
                walk(xobj.Resources)

    with pikepdf.open(io.BytesIO(data)) as doc:
        for page in doc.pages:
            walk(page.Resources)
    return out


def test_only_embedded_dejavu_fonts():
    fonts = _fonts(_every_element().render())
    assert fonts, "no fonts found"
    assert all("DejaVu" in name for name in fonts), fonts
    assert all(fonts.values()), fonts
    assert not any("Helvetica" in name for name in fonts)


def test_user_text_is_shown_literally(tmp_path):
    data = _every_element().render()
    text = _text(data, tmp_path)
    for hostile in HOSTILE:
        assert hostile in text
    with pikepdf.open(io.BytesIO(data)) as doc:
        for page in doc.pages:
            xobjects = page.Resources.get("/XObject") or {}
            assert not any(x.get("/Subtype") == "/Image" for x in xobjects.values())


def test_controls_and_bidi_overrides_made_visible(tmp_path):
    assert plain("ali\u202eecil\x07") == "ali[U+202E]ecil[U+0007]"
    assert markup("<b>\nx") == "&lt;b&gt;<br/>x"


def test_banner_and_page_x_of_y(tmp_path):
    doc = _every_element()
    doc.page_break()
    doc.paragraph("second page")
    text = _text(doc.render(), tmp_path)
    pages = [p for p in text.split("\f") if p.strip()]
    n = len(pages)
    assert n >= 2 and "second page" in pages[-1]
    assert "LEDGER DID NOT VERIFY" in pages[0]
    assert "LEDGER DID NOT VERIFY" not in pages[-1]
    for i, page in enumerate(pages, start=1):
        assert f"Page {i} of {n}" in page
        assert "PRACTICE" in page and "footer text" in page


def test_same_input_same_bytes():
    assert _every_element().render() == _every_element().render()
    assert _every_element().render(archival=True) == _every_element().render(archival=True)


def test_creation_date_comes_from_the_data():
    with pikepdf.open(io.BytesIO(_every_element().render())) as doc:
        assert str(doc.docinfo.CreationDate).startswith("D:20260301093000")


def test_2000_row_table_is_split_into_chunks_and_pages(tmp_path):
    doc = pdf.Document(pdf.DocumentInfo(title="Long", created="2026-03-01T00:00:00Z"))
    rows = ([str(i), f"event-{i}", "pad.note <x>"] for i in range(2000))
    assert doc.table(["seq", "name", "type"], rows, wrap=False) == 2000
    tables = [f for f in doc.story if type(f).__name__ == "Table"]
    assert len(tables) == 20  # 100 rows each
    text = _text(doc.render(), tmp_path)
    pages = text.split("\f")
    n = len([p for p in pages if p.strip()])
    assert n > 20
    assert "event-0 " in text and "event-1999" in text
    assert f"Page {n} of {n}" in text
    # every page repeats the header row
    assert all("seq" in p for p in pages if p.strip())


def test_reportlab_settings_files_are_never_executed(tmp_path):
    marker = tmp_path / "executed"
    home = tmp_path / "home"
    home.mkdir()
    evil = f"open({str(marker)!r}, 'w').write('x')\n"
    (home / ".reportlab_settings").write_text(evil)
    work = tmp_path / "cwd"
    work.mkdir()
    (work / "reportlab_settings.py").write_text(evil)
    repo = Path(__file__).resolve().parents[3]
    script = textwrap.dedent(
        f"""
        import sys
        sys.path[:0] = ['', {str(repo)!r}]
        from custody.documents.pdf import document as pdf
        from reportlab import rl_config
        doc = pdf.Document(pdf.DocumentInfo(title="t", created="2026-01-01T00:00:00Z"))
        doc.paragraph("x")
        doc.render()
        assert rl_config.invariant == 1
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=work,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()


def validate_pdfa2b(data: bytes) -> None:
    """Structural PDF/A-2b checks we can make without veraPDF (see docs/receipts.md)."""
    assert data.startswith(b"%PDF-1.")
    assert int(data[7:8]) <= 7
    with pikepdf.open(io.BytesIO(data)) as doc:
        assert not doc.is_encrypted
        assert "/ID" in doc.trailer
        intents = doc.Root.get("/OutputIntents")
        assert intents is not None and len(intents) == 1 and intents[0].S == "/GTS_PDFA1"
        icc = intents[0].DestOutputProfile
        assert icc.N == 3
        profile = icc.read_bytes()
        assert profile[36:40] == b"acsp" and profile[16:20] == b"RGB "
        assert "/Metadata" in doc.Root
        xmp = doc.Root.Metadata.read_bytes().decode()
        assert "<pdfaid:part>2</pdfaid:part>" in xmp
        assert "<pdfaid:conformance>B</pdfaid:conformance>" in xmp
        meta = doc.open_metadata()
        assert meta["dc:title"] == str(doc.docinfo.Title)
        assert meta["pdf:Producer"] == str(doc.docinfo.Producer)
        assert str(doc.docinfo.CreationDate)[2:16] == meta["xmp:CreateDate"][:19].replace(
            "-", ""
        ).replace("T", "").replace(":", "")
        names = doc.Root.get("/Names") or {}
        assert "/JavaScript" not in names and "/EmbeddedFiles" not in names
        assert "/OpenAction" not in doc.Root and "/AA" not in doc.Root
        for page in doc.pages:
            assert "/AA" not in page
            for annot in page.get("/Annots") or []:
                assert annot.get("/A", {}).get("/S") != "/JavaScript"
    fonts = _fonts(data)
    assert fonts and all(fonts.values()), fonts


def test_archival_output_is_structurally_pdfa2b():
    validate_pdfa2b(_every_element().render(archival=True))


def test_plain_output_is_not_claimed_archival():
    with pytest.raises(AssertionError):
        validate_pdfa2b(_every_element().render())
