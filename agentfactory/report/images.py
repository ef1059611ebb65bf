"""The images a run wrote (PNG, JPEG, SVG under `outputs/`), checked and made into `data:` URIs for the
run report.

Output files are written by subagent code and are hostile. What the report does with them:
- reads only regular files below the run's `outputs/`, opened without following links, walking at most
  MAX_DEPTH folders deep and looking at most at MAX_ENTRIES names (no recursion, so no depth can crash it);
- reads at most MAX_IMAGE_BYTES (1 MiB) of each and skips larger ones, at most MAX_IMAGES and
  MAX_TOTAL_BYTES in all;
- embeds a file only when its bytes are what its extension says (PNG / JPEG signature and a sane header
  with at most MAX_PIXELS_SIDE pixels a side; SVG that is UTF-8 XML whose root is `<svg>`, without a
  DOCTYPE or entities);
- embeds every image, SVG included, as `<img src="data:...">`, never inline: an image document runs no
  script and loads nothing, and the page's Content-Security-Policy allows images from `data:` only.
Skipped files are listed with the reason, so a missing picture is explained.
"""

from __future__ import annotations

import base64
import os
import re
import struct
from pathlib import Path

from agentfactory.records import record
from agentfactory.regular_files import NOT_REGULAR, TOO_LARGE, FileRefused, read_regular

MAX_IMAGE_BYTES = 1 << 20
MAX_IMAGES = 24
MAX_TOTAL_BYTES = 8 << 20  # all images of one page together
MAX_PIXELS_SIDE = 10_000
MAX_DEPTH = 6
MAX_ENTRIES = 2_000
_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}
_SVG_ROOT = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]{0,200}\?>\s*)?(?:<!--.*?-->\s*){0,20}<svg[\s>/]", re.DOTALL
)


@record(frozen=True)
class Image:
    name: str  # path below outputs/, as the subagent named it (escaped by the template)
    mime: str
    size: int
    data_uri: str


@record(frozen=True)
class Skipped:
    name: str
    reason: str


def _png_ok(data: bytes) -> str | None:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR" or len(data) < 24:
        return "not a PNG image (its content does not match its name)"
    width, height = struct.unpack(">II", data[16:24])
    if not (0 < width <= MAX_PIXELS_SIDE and 0 < height <= MAX_PIXELS_SIDE):
        return f"{width}x{height} pixels, more than {MAX_PIXELS_SIDE} a side"
    return None


def _jpeg_ok(data: bytes) -> str | None:
    if data[:3] != b"\xff\xd8\xff":
        return "not a JPEG image (its content does not match its name)"
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            break
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and pos + 9 <= len(data):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            if not (0 < width <= MAX_PIXELS_SIDE and 0 < height <= MAX_PIXELS_SIDE):
                return f"{width}x{height} pixels, more than {MAX_PIXELS_SIDE} a side"
            return None
        if length < 2:
            break
        pos += 2 + length
    return "not a JPEG image (no frame header found)"


def _svg_ok(data: bytes) -> str | None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "not a UTF-8 SVG document"
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in data.lower():
        return "an SVG with a DOCTYPE or entities (not embedded)"
    if not _SVG_ROOT.match(data):
        return "not an SVG document (its root element is not <svg>)"
    return None


_CHECKS = {"image/png": _png_ok, "image/jpeg": _jpeg_ok, "image/svg+xml": _svg_ok}


def _read_capped(path: Path) -> bytes | str:
    """The bytes of a regular file opened without following links, or why it was not read."""
    try:
        return read_regular(path, MAX_IMAGE_BYTES)
    except FileRefused as refused:
        if refused.kind == NOT_REGULAR:
            return "not a regular file"
        if refused.kind == TOO_LARGE and refused.size is not None:
            return f"{refused.size:,} bytes, larger than the {MAX_IMAGE_BYTES:,}-byte limit"
        if refused.kind == TOO_LARGE:
            return f"larger than the {MAX_IMAGE_BYTES:,}-byte limit"
        return "could not be opened (a link, or gone)"


def _candidates(outputs: Path) -> list[str]:
    """Relative paths of files with an image extension below `outputs`, breadth first, bounded."""
    found: list[str] = []
    queue: list[tuple[Path, str, int]] = [(outputs, "", 0)]
    seen = 0
    while queue and seen < MAX_ENTRIES:
        folder, prefix, depth = queue.pop(0)
        try:
            with os.scandir(folder) as entries:
                listed = sorted(entries, key=lambda e: e.name)
        except OSError:
            continue
        for entry in listed:
            seen += 1
            if seen > MAX_ENTRIES:
                break
            rel = f"{prefix}{entry.name}"
            try:
                if entry.is_dir(follow_symlinks=False):
                    if depth + 1 < MAX_DEPTH:
                        queue.append((Path(entry.path), rel + "/", depth + 1))
                elif os.path.splitext(entry.name)[1].lower() in _TYPES:
                    found.append(rel)
            except OSError:
                continue
    return found


def collect_images(run_dir: Path) -> tuple[list[Image], list[Skipped]]:
    """The embeddable images of a run's `outputs/` and the image files that were not embedded."""
    outputs = Path(run_dir) / "outputs"
    if outputs.is_symlink() or not outputs.is_dir():
        return [], []
    images: list[Image] = []
    skipped: list[Skipped] = []
    total = 0
    for rel in _candidates(outputs):
        if len(images) >= MAX_IMAGES:
            skipped.append(Skipped(rel, f"more than {MAX_IMAGES} images in this run"))
            continue
        mime = _TYPES[os.path.splitext(rel)[1].lower()]
        data = _read_capped(outputs / rel)
        if isinstance(data, str):
            skipped.append(Skipped(rel, data))
            continue
        problem = _CHECKS[mime](data)
        if problem:
            skipped.append(Skipped(rel, problem))
            continue
        if total + len(data) > MAX_TOTAL_BYTES:
            skipped.append(Skipped(rel, f"the page already holds {total:,} bytes of images"))
            continue
        total += len(data)
        uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        images.append(Image(rel, mime, len(data), uri))
    return images, skipped
