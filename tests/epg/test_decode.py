"""Guide files as XML: compression found by content, output capped."""

from __future__ import annotations

import bz2
import gzip
import lzma
import zipfile
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from xrelay.epg._decode import GuideFileError, guide_chunks

XML = (
    b"<tv>"
    + b"<channel id='c'><display-name>C</display-name></channel>" * 5000
    + b"</tv>"
)


class DecodeTests(SynchronousTestCase):
    def write(self, data: bytes, name: str = "guide") -> str:
        path = Path(self.mktemp())
        path.parent.mkdir(parents=True, exist_ok=True)
        path = path.with_name(name)
        path.write_bytes(data)
        return str(path)

    def read(self, path: str, max_bytes: int = 10**9) -> bytes:
        return b"".join(guide_chunks(path, max_bytes))

    def test_plain(self) -> None:
        self.assertEqual(self.read(self.write(XML)), XML)

    def test_gzip_xz_bzip2_whatever_the_name(self) -> None:
        for packed in (gzip.compress(XML), lzma.compress(XML), bz2.compress(XML)):
            self.assertEqual(self.read(self.write(packed, "guide.xml")), XML)

    def test_gzip_inside_gzip(self) -> None:
        """A .gz file served with Content-Encoding: gzip, stored as is."""
        self.assertEqual(self.read(self.write(gzip.compress(gzip.compress(XML)))), XML)

    def test_zip_takes_the_xml_member(self) -> None:
        path = Path(self.mktemp() + ".zip")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("readme.txt", "hello")
            archive.writestr("../../guide.xml", XML)  # never extracted: harmless
        self.assertEqual(self.read(str(path)), XML)

    def test_an_empty_zip_is_an_error(self) -> None:
        path = Path(self.mktemp() + ".zip")
        with zipfile.ZipFile(path, "w"):
            pass
        with self.assertRaises(GuideFileError):
            self.read(str(path))

    def test_output_is_capped_even_when_the_file_is_small(self) -> None:
        bomb = gzip.compress(b" " * 50_000_000)  # 50 kB that expands to 50 MB
        path = self.write(bomb)
        self.assertLess(Path(path).stat().st_size, 100_000)
        with self.assertRaises(GuideFileError) as caught:
            self.read(path, max_bytes=1_000_000)
        self.assertIn("over 1 MB of XML", str(caught.exception))

    def test_a_corrupt_archive_is_an_error(self) -> None:
        packed = gzip.compress(XML)
        path = self.write(packed[: len(packed) // 2])
        with self.assertRaises(GuideFileError) as caught:
            self.read(path)
        self.assertIn("corrupt compressed guide", str(caught.exception))
