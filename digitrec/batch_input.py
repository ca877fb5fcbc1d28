"""The images of one ``/predict_batch`` call: image files, and zip archives of image files.

An archive is the fast way for a script to send many images. gradio_client uploads each
file of a call in its own HTTP request, with a new HTTP client (and TLS context) each,
which costs the script tens of milliseconds per file, more than classifying the image;
a zip archive of the same images is one upload.

Archives are read in memory, never extracted, so member names point nowhere on disk.
Members are taken in archive order; directories, macOS metadata (``__MACOSX/``,
``._name``) and the files file managers keep in folders (``.DS_Store``, ``Thumbs.db``,
``desktop.ini``) are skipped. Every limit is checked from the archive's directory before
anything is decompressed: the number of images (the batch limit), each member's size
(the upload limit) and the archive's total (``ARCHIVE_EXPANSION`` times the upload limit),
so a zip bomb is refused unread. A member's declared size also bounds what is read:
:mod:`zipfile` stops there and fails on the checksum if the data claimed less. The images'
pixels, all of a call's together, are bounded next, from their headers, before any is
decoded (:func:`digitrec.serving.check_batch_pixels`).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Sequence

from digitrec.errors import InvalidImageError

#: Names (lower case) of files that macOS Finder and Windows Explorer keep in folders, which a
#: zip of a folder holds beside its images: skipped, like ``__MACOSX/``.
FOLDER_FILES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})

#: File names (any case) read as zip archives of images.
ARCHIVE_SUFFIX = ".zip"
#: An archive's images may take this many times the upload limit once decompressed: PNG
#: and JPEG barely compress, uncompressed formats (BMP, TIFF) a few times.
ARCHIVE_EXPANSION = 4


@dataclass(frozen=True)
class BatchImage:
    """One image of a batch: a file path, or the bytes of an archive member.

    ``origin`` names a member for error messages (``"3.png in digits.zip"``); it is None
    for a plain file, whose errors name the file already.
    """

    source: str | bytes
    origin: str | None = None


def batch_images(files: Sequence[str | Path], max_images: int, max_file_size: int) -> list[BatchImage]:
    """The images of a batch, in order: plain files as they are, archives opened.

    Raises :class:`InvalidImageError` for no images, more than ``max_images``, or an
    archive that is unreadable, empty of images or over the size limits.
    """
    if not files:
        raise InvalidImageError("No images received: send a list of image files, or a zip archive of them.")
    images: list[BatchImage] = []
    archive_bytes = 0  # decompressed so far, over all the call's archives
    for file in files:
        if Path(file).suffix.lower() != ARCHIVE_SUFFIX:
            images.append(BatchImage(str(file)))
            _check_count(len(images), max_images)
            continue
        path = Path(file)
        try:
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.infolist() if _is_image_member(m)]
                if not members:
                    raise InvalidImageError(f"{path.name}: the archive has no files in it.")
                _check_count(len(images) + len(members), max_images)
                archive_bytes += _checked_size(path.name, members, max_file_size)
                if archive_bytes > ARCHIVE_EXPANSION * max_file_size:
                    raise InvalidImageError(
                        f"{path.name}: the images take {archive_bytes:,} bytes decompressed; the limit is "
                        f"{ARCHIVE_EXPANSION * max_file_size:,} bytes per call."
                    )
                images.extend(BatchImage(_read(archive, m, path.name), f"{m.filename} in {path.name}")
                              for m in members)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise InvalidImageError(f"{path.name}: not a readable zip archive ({exc}).") from None
    return images


def _check_count(count: int, max_images: int) -> None:
    if count > max_images:
        raise InvalidImageError(f"Too many images (at least {count}); send at most {max_images} per call.")


def _is_image_member(member: zipfile.ZipInfo) -> bool:
    """False for directories, macOS metadata and the files file managers leave in folders
    (``FOLDER_FILES``), which archivers add beside the images."""
    name = PurePosixPath(member.filename)
    return not (member.is_dir() or name.parts[0] == "__MACOSX" or name.name.startswith("._")
                or name.name.lower() in FOLDER_FILES)


def _checked_size(archive: str, members: list[zipfile.ZipInfo], max_file_size: int) -> int:
    """The members' total decompressed size, as declared; raises if one is over the upload limit."""
    for member in members:
        if member.file_size > max_file_size:
            raise InvalidImageError(
                f"{member.filename} in {archive}: too large ({member.file_size:,} bytes); "
                f"the limit is {max_file_size:,} bytes per image."
            )
    return sum(m.file_size for m in members)


def _read(archive: zipfile.ZipFile, member: zipfile.ZipInfo, name: str) -> bytes:
    try:
        return archive.read(member)
    except (RuntimeError, NotImplementedError, zipfile.BadZipFile, ValueError, EOFError) as exc:
        # encrypted, an unknown compression method, corrupt data or a wrong checksum
        raise InvalidImageError(f"{member.filename} in {name}: cannot be read ({exc}).") from None
