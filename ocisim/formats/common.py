"""What the format modules share: bounds-checked reads, the errors users see, and regrouping blocks.

The package's `__init__` dispatches to qcow2 and vmdk, and they import only this module, so nothing cycles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

SECTOR = 512

UNSUPPORTED = "The image file format is not supported. Supported formats are QCOW2 and VMDK."


class ImageFormatError(ValueError):
    """The file is not a usable QCOW2/VMDK image; the message is shown to API users."""


def corrupt(detail: str) -> ImageFormatError:
    """Error for a file that claims a supported format but breaks its rules."""
    return ImageFormatError(f"The image file is corrupt or truncated: {detail}.")


def unsupported(detail: str) -> ImageFormatError:
    """Error for a valid image that uses a feature OCI does not import."""
    return ImageFormatError(f"The image file uses a feature that is not supported: {detail}.")


class Source:
    """Bounds-checked random access, so a lying table entry becomes a clear error."""

    def __init__(self, read_at: Callable[[int, int], bytes], size: int) -> None:
        self._read_at = read_at
        self.size = size

    def read(self, offset: int, length: int, what: str) -> bytes:
        """Exactly `length` bytes at `offset`, or ImageFormatError if outside the file."""
        if offset < 0 or length < 0 or offset + length > self.size:
            raise corrupt(f"{what} at offset {offset} lies beyond the end of the file")
        data = bytes(self._read_at(offset, length))
        if len(data) != length:
            raise corrupt(f"short read of {what} at offset {offset}")
        return data

    def read_padded(self, offset: int, length: int, what: str) -> bytes:
        """Like read(), but a tail past end of file reads as zeros.

        Writers may leave the final cluster of a file short; the spec says
        unwritten bytes of an allocated cluster read as zero.
        """
        if offset < 0 or offset >= self.size:
            raise corrupt(f"{what} at offset {offset} lies beyond the end of the file")
        avail = min(length, self.size - offset)
        return self.read(offset, avail, what) + bytes(length - avail)


def rechunk(
    chunks: Iterable[tuple[int, bytes]], in_size: int, out_size: int, limit: int
) -> Iterator[tuple[int, bytes]]:
    """Regroup (index, data) runs of `in_size` units into `out_size` units.

    Input must ascend; bytes at or past `limit` (the virtual size) are dropped.
    Only output units holding a non-zero byte are yielded, each exactly
    `out_size` bytes, so a sparse image stays sparse whatever its cluster size.
    """
    zero = bytes(out_size)
    cur = -1
    buf = bytearray()
    next_start = 0
    for index, data in chunks:
        if index < 0 or len(data) > in_size:
            raise ValueError(f"block {index} is malformed (length {len(data)}, expected {in_size})")
        start = index * in_size
        if start < next_start:
            raise ValueError("blocks must be given once each, in ascending block_index order")
        next_start = start + in_size
        end = min(start + len(data), limit)
        pos = start
        while pos < end:
            unit = pos // out_size
            if unit != cur:
                if cur >= 0 and buf != zero:
                    yield cur, bytes(buf)
                cur, buf = unit, bytearray(out_size)
            base = unit * out_size
            n = min(end, base + out_size) - pos
            buf[pos - base : pos - base + n] = data[pos - start : pos - start + n]
            pos += n
    if cur >= 0 and buf != zero:
        yield cur, bytes(buf)
