"""The images of a /predict_batch call: plain files and zip archives, with their limits."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from digitrec.batch_input import ARCHIVE_EXPANSION, batch_images
from digitrec.errors import InvalidImageError

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = ROOT / "tests" / "data"
INK_3 = TEST_DATA / "ink_3.png"
INK_4 = TEST_DATA / "ink_4.jpg"
MB = 1024**2


def make_zip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_plain_files_and_archive_members_keep_their_order(tmp_path):
    archive = make_zip(tmp_path / "Digits.ZIP", {
        "scans/": b"", "scans/b.jpg": INK_4.read_bytes(), "__MACOSX/scans/._b.jpg": b"\0resource fork",
        "scans/._a.png": b"\0appledouble", "scans/a.png": INK_3.read_bytes(), ".DS_Store": b"\0\0\0\1Bud1",
        "scans/.DS_Store": b"\0\0\0\1Bud1", "scans/Thumbs.db": b"\xd0\xcf\x11\xe0", "desktop.ini": b"[.ShellClassInfo]",
    })
    images = batch_images([str(INK_3), str(archive), str(INK_4)], max_images=10, max_file_size=MB)
    assert [i.source for i in images] == [str(INK_3), INK_4.read_bytes(), INK_3.read_bytes(), str(INK_4)]
    assert [i.origin for i in images] == [None, "scans/b.jpg in Digits.ZIP", "scans/a.png in Digits.ZIP", None]


@pytest.mark.parametrize("files, message", [
    ([], "No images received"),
    ([str(INK_3)] * 3, "Too many images (at least 3); send at most 2 per call"),
])
def test_empty_or_too_many_plain_files(files, message):
    with pytest.raises(InvalidImageError, match=re.escape(message)):
        batch_images(files, max_images=2, max_file_size=MB)


def test_archive_members_count_towards_the_batch_limit(tmp_path):
    archive = make_zip(tmp_path / "d.zip", {f"{i}.png": INK_3.read_bytes() for i in range(2)})
    assert len(batch_images([str(archive)], max_images=2, max_file_size=MB)) == 2
    with pytest.raises(InvalidImageError, match=r"Too many images \(at least 3\); send at most 2"):
        batch_images([str(INK_4), str(archive)], max_images=2, max_file_size=MB)


def test_a_zip_bomb_is_refused_from_the_directory(tmp_path):
    """50 MB of zeros deflate to ~50 kB: refused from the declared size, before decompressing."""
    bomb = make_zip(tmp_path / "bomb.zip", {"a.png": INK_3.read_bytes(), "zeros.png": bytes(50 * MB)})
    assert bomb.stat().st_size < MB
    with pytest.raises(InvalidImageError, match="zeros.png in bomb.zip: too large"):
        batch_images([str(bomb)], max_images=10, max_file_size=10 * MB)


def test_the_decompressed_total_is_limited_per_call(tmp_path):
    """Each member within the upload limit, but all of them together over the expansion allowance."""
    limit = 100 * 1024
    members = {f"{i}.bmp": bytes(limit) for i in range(ARCHIVE_EXPANSION)}
    first, second = make_zip(tmp_path / "one.zip", members), make_zip(tmp_path / "two.zip", {"x.bmp": bytes(limit)})
    assert len(batch_images([str(first)], max_images=10, max_file_size=limit)) == ARCHIVE_EXPANSION
    with pytest.raises(InvalidImageError, match="two.zip: the images take .* bytes decompressed"):
        batch_images([str(first), str(second)], max_images=10, max_file_size=limit)


def test_unreadable_archives_get_clear_errors(tmp_path):
    text = tmp_path / "notes.zip"
    text.write_text("not an archive")
    with pytest.raises(InvalidImageError, match="notes.zip: not a readable zip archive"):
        batch_images([str(text)], max_images=10, max_file_size=MB)

    empty = make_zip(tmp_path / "empty.zip", {"folder/": b""})
    with pytest.raises(InvalidImageError, match="empty.zip: the archive has no files"):
        batch_images([str(empty)], max_images=10, max_file_size=MB)

    corrupt = make_zip(tmp_path / "corrupt.zip", {"a.png": INK_3.read_bytes()}, zipfile.ZIP_STORED)
    data = bytearray(corrupt.read_bytes())
    start = data.index(b"\x89PNG")
    data[start + 100: start + 110] = bytes(10)  # the stored bytes no longer match their CRC
    corrupt.write_bytes(bytes(data))
    with pytest.raises(InvalidImageError, match="a.png in corrupt.zip: cannot be read"):
        batch_images([str(corrupt)], max_images=10, max_file_size=MB)
