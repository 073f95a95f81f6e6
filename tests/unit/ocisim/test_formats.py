"""Disk image formats checked against qemu-img, mkfs.ext4 and e2fsck on real files."""

from __future__ import annotations

import hashlib
import random
import shutil
import struct
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocisim.backend.base import MIB
from ocisim.formats import BLOCK_SIZE, ImageFormatError, iter_blocks, probe, write_image

# 64 MiB plus a partial block whose size is a multiple of 512 but not of 1 MiB.
RAW_SIZE = 64 * MIB + 300 * 1024 + 1536
UNSUPPORTED = "The image file format is not supported. Supported formats are QCOW2 and VMDK."
OWN_FORMATS = [("VMDK", "streamOptimized"), ("VMDK", "monolithicSparse"), ("QCOW2", None)]
OWN_IDS = ["vmdk-stream", "vmdk-sparse", "qcow2"]

needs_qemu = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img is not installed")


def run(*cmd: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], check=True, capture_output=True, text=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def raw_blocks(path: Path, block_size: int = BLOCK_SIZE) -> Iterator[tuple[int, bytes]]:
    """Non-zero blocks of a raw file, the last one zero-padded, as callers pass them."""
    with path.open("rb") as f:
        index = 0
        while block := f.read(block_size):
            if block.count(0) != len(block):
                yield index, block.ljust(block_size, b"\0")
            index += 1


def decode(path: Path, block_size: int = BLOCK_SIZE) -> bytes:
    """Raw virtual disk bytes via probe + iter_blocks, checking the block contract."""
    with path.open("rb") as f:
        _, virtual_size = probe(f.read(64 * 1024))

        def read_at(offset: int, length: int) -> bytes:
            f.seek(offset)
            return f.read(length)

        disk = bytearray(-(-virtual_size // block_size) * block_size)
        last = -1
        for index, data in iter_blocks(read_at, path.stat().st_size, block_size):
            assert index > last, "blocks must ascend"
            assert len(data) == block_size
            assert data.count(0) != block_size, "all-zero blocks must be skipped"
            disk[index * block_size : (index + 1) * block_size] = data
            last = index
    assert disk[virtual_size:].count(0) == len(disk) - virtual_size, "padding must be zero"
    return bytes(disk[:virtual_size])


def make_image(
    tmp_path: Path, raw: Path, fmt: str, subformat: str | None, block_size: int = BLOCK_SIZE
) -> Path:
    image = tmp_path / f"disk-{subformat or fmt}.{fmt.lower()}"
    with image.open("wb") as out:
        write_image(out, fmt, raw.stat().st_size, raw_blocks(raw, block_size), block_size, subformat)
    return image


@pytest.fixture(scope="module")
def raw_disk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sparse raw disk with data at awkward places: block-crossing, unaligned, last byte."""
    rng = random.Random(20240601)
    disk = bytearray(RAW_SIZE)
    disk[0:512] = rng.randbytes(512)
    disk[5 * MIB - 4096 : 5 * MIB + 4096] = rng.randbytes(8192)  # crosses a block boundary
    disk[10 * MIB : 11 * MIB] = (b"ocisim-compressible " * MIB)[:MIB]
    disk[20 * MIB + 7 : 20 * MIB + 7 + 300 * 1024] = rng.randbytes(300 * 1024)
    disk[40 * MIB + 12345] = 0x5A
    disk[-1000:] = rng.randbytes(1000)  # inside the partial last block
    path = tmp_path_factory.mktemp("raw") / "disk.raw"
    path.write_bytes(disk)
    return path


# --- round trips through our writers ---------------------------------------


@pytest.mark.parametrize(("fmt", "subformat"), OWN_FORMATS, ids=OWN_IDS)
def test_round_trip_own_reader(tmp_path: Path, raw_disk: Path, fmt: str, subformat: str | None) -> None:
    image = make_image(tmp_path, raw_disk, fmt, subformat)
    assert probe(image.read_bytes()[:512]) == (fmt, RAW_SIZE)
    assert decode(image) == raw_disk.read_bytes()
    assert image.stat().st_size < 8 * MIB, "zero regions must not be stored"


@needs_qemu
@pytest.mark.parametrize(("fmt", "subformat"), OWN_FORMATS, ids=OWN_IDS)
def test_round_trip_qemu_accepts(tmp_path: Path, raw_disk: Path, fmt: str, subformat: str | None) -> None:
    image = make_image(tmp_path, raw_disk, fmt, subformat)
    run("qemu-img", "check", image)
    converted = tmp_path / "converted.raw"
    run("qemu-img", "convert", "-O", "raw", image, converted)
    assert sha256(converted) == sha256(raw_disk)


def test_stream_vmdk_to_pipe_has_footer(tmp_path: Path, raw_disk: Path) -> None:
    """streamOptimized needs no seek: write through a real pipe, GD found via the footer."""
    image = tmp_path / "piped.vmdk"
    with image.open("wb") as sink:
        cat = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=sink)
        assert cat.stdin is not None and not cat.stdin.seekable()
        write_image(cat.stdin, "VMDK", RAW_SIZE, raw_blocks(raw_disk))
        cat.stdin.close()
        assert cat.wait() == 0
    data = image.read_bytes()
    assert struct.unpack_from("<Q", data, 56)[0] == (1 << 64) - 1, "header gdOffset must be GD_AT_END"
    assert struct.unpack_from("<QII", data, len(data) - 1536) == (1, 0, 3), "footer marker"
    assert data[-512:] == bytes(512), "end-of-stream marker"
    assert decode(image) == raw_disk.read_bytes()


@pytest.mark.parametrize("write_bs", [256 * 1024, 4 * MIB])
@pytest.mark.parametrize("read_bs", [4096, BLOCK_SIZE, 4 * MIB])
def test_other_block_sizes(tmp_path: Path, raw_disk: Path, write_bs: int, read_bs: int) -> None:
    for fmt, subformat in (("QCOW2", None), ("VMDK", "streamOptimized")):
        image = make_image(tmp_path, raw_disk, fmt, subformat, block_size=write_bs)
        assert decode(image, read_bs) == raw_disk.read_bytes()


def test_explicit_zero_blocks_are_not_stored(tmp_path: Path) -> None:
    with (tmp_path / "a.qcow2").open("wb") as out:
        write_image(out, "QCOW2", 8 * MIB, [(i, bytes(BLOCK_SIZE)) for i in range(8)])
    with (tmp_path / "b.qcow2").open("wb") as out:
        write_image(out, "QCOW2", 8 * MIB, [])
    assert (tmp_path / "a.qcow2").read_bytes() == (tmp_path / "b.qcow2").read_bytes()


# --- images made by qemu-img ------------------------------------------------


@needs_qemu
@pytest.mark.parametrize(
    "args",
    [
        ["-O", "vmdk", "-o", "subformat=monolithicSparse"],
        ["-O", "vmdk", "-o", "subformat=streamOptimized"],
        ["-O", "qcow2", "-o", "compat=1.1"],
        ["-O", "qcow2", "-o", "compat=0.10"],
        ["-O", "qcow2", "-o", "cluster_size=2M"],
        ["-O", "qcow2", "-o", "cluster_size=512"],
    ],
    ids=["vmdk-sparse", "vmdk-stream", "qcow2-v3", "qcow2-v2", "qcow2-2M", "qcow2-512"],
)
def test_reads_qemu_images(tmp_path: Path, raw_disk: Path, args: list[str]) -> None:
    image = tmp_path / "qemu.img"
    run("qemu-img", "convert", "-f", "raw", *args, raw_disk, image)
    assert probe(image.read_bytes()[:512])[1] == RAW_SIZE
    assert decode(image) == raw_disk.read_bytes()


@pytest.mark.skipif(shutil.which("qemu-io") is None, reason="qemu-io is not installed")
@pytest.mark.parametrize("compat", ["1.1", "0.10"])
def test_reads_qcow2_zeroed_clusters(tmp_path: Path, raw_disk: Path, compat: str) -> None:
    image = tmp_path / "zeroed.qcow2"
    run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-o", f"compat={compat}", raw_disk, image)
    run("qemu-io", "-f", "qcow2", "-c", f"write -z {10 * MIB} {MIB}", image)
    expected = bytearray(raw_disk.read_bytes())
    expected[10 * MIB : 11 * MIB] = bytes(MIB)
    assert decode(image) == bytes(expected)


# --- a real filesystem ------------------------------------------------------


@pytest.mark.skipif(
    shutil.which("mkfs.ext4") is None or shutil.which("e2fsck") is None, reason="e2fsprogs is not installed"
)
@pytest.mark.parametrize(("fmt", "subformat"), OWN_FORMATS, ids=OWN_IDS)
def test_ext4_filesystem_survives(tmp_path: Path, fmt: str, subformat: str | None) -> None:
    rng = random.Random(7)
    tree = tmp_path / "tree"
    (tree / "etc" / "deep" / "er").mkdir(parents=True)
    (tree / "etc" / "hostname").write_text("ocisim-instance\n")
    (tree / "etc" / "deep" / "er" / "blob.bin").write_bytes(rng.randbytes(3 * MIB + 123))
    (tree / "zeros-and-text.txt").write_bytes(b"x" * 5000 + bytes(200_000) + b"end")
    fs = tmp_path / "fs.raw"
    with fs.open("wb") as f:
        f.truncate(32 * MIB)
    run("mkfs.ext4", "-q", "-F", "-d", tree, fs)

    image = make_image(tmp_path, fs, fmt, subformat)
    decoded = tmp_path / "decoded.raw"
    decoded.write_bytes(decode(image))
    assert sha256(decoded) == sha256(fs)
    run("e2fsck", "-fn", decoded)


# --- probe ------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "subformat"), OWN_FORMATS, ids=OWN_IDS)
def test_probe_huge_empty_disk(tmp_path: Path, fmt: str, subformat: str | None) -> None:
    virtual = 500 * 10**9
    image = tmp_path / "huge.img"
    with image.open("wb") as out:
        write_image(out, fmt, virtual, [], subformat=subformat)
    if subformat != "monolithicSparse":  # that layout preallocates ~30 MB of grain tables
        assert image.stat().st_size < MIB
    assert probe(image.read_bytes()[: 64 * 1024]) == (fmt, virtual)
    with image.open("rb") as f:
        blocks = iter_blocks(lambda o, n: (f.seek(o), f.read(n))[1], image.stat().st_size)
        assert list(blocks) == []
    if shutil.which("qemu-img"):
        assert f'"virtual-size": {virtual},' in run("qemu-img", "info", "--output=json", image).stdout


def iso_head() -> bytes:
    head = bytearray(64 * 1024)
    head[0x8001:0x8006] = b"CD001"
    return bytes(head)


def zip_head(tmp_path: Path) -> bytes:
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("disk.raw", b"not a disk image")
    return archive.read_bytes()


@pytest.mark.parametrize("kind", ["text", "zip", "iso", "raw-zeros", "empty", "vmdk-descriptor"])
def test_probe_rejects_other_files(tmp_path: Path, kind: str) -> None:
    head = {
        "text": b"hello, this is a text file\n" * 30,
        "zip": zip_head(tmp_path),
        "iso": iso_head(),
        "raw-zeros": bytes(4096),
        "empty": b"",
        "vmdk-descriptor": b'# Disk DescriptorFile\nversion=1\ncreateType="monolithicFlat"\n',
    }[kind]
    with pytest.raises(ImageFormatError) as info:
        probe(head)
    assert str(info.value) == UNSUPPORTED
    with pytest.raises(ImageFormatError, match="not supported"):
        list(iter_blocks(lambda o, n: head[o : o + n], len(head)))


# --- malformed and unsupported input ----------------------------------------


def blocks_of(image: Path) -> list[tuple[int, bytes]]:
    data = image.read_bytes()
    return list(iter_blocks(lambda o, n: data[o : o + n], len(data)))


@pytest.mark.parametrize(("fmt", "subformat"), OWN_FORMATS, ids=OWN_IDS)
@pytest.mark.parametrize("keep", [0.5, 0.9, 300])
def test_truncated_images_are_rejected(
    tmp_path: Path, raw_disk: Path, fmt: str, subformat: str | None, keep: float
) -> None:
    image = make_image(tmp_path, raw_disk, fmt, subformat)
    length = int(image.stat().st_size * keep) if keep < 1 else int(keep)
    with image.open("r+b") as f:
        f.truncate(length)
    with pytest.raises(ImageFormatError, match="corrupt or truncated"):
        blocks_of(image)


def patched(image: Path, offset: int, value: bytes) -> Path:
    data = bytearray(image.read_bytes())
    data[offset : offset + len(value)] = value
    image.write_bytes(data)
    return image


def test_vmdk_header_damage_is_rejected(tmp_path: Path, raw_disk: Path) -> None:
    image = make_image(tmp_path, raw_disk, "VMDK", "monolithicSparse")
    pristine = image.read_bytes()
    patched(image, 20, struct.pack("<Q", 100))  # grain size not a power of two
    with pytest.raises(ImageFormatError, match="grain size"):
        blocks_of(image)
    image.write_bytes(pristine)
    patched(image, 73, b"\n \n\n")  # CRLF test bytes mangled by a text-mode copy
    with pytest.raises(ImageFormatError, match="text mode"):
        probe(image.read_bytes())
    old = b'createType="monolithicSparse"'
    image.write_bytes(pristine.replace(old, b'createType="vmfsSparse"'.ljust(len(old))))
    with pytest.raises(ImageFormatError, match="createType vmfsSparse"):
        blocks_of(image)


def test_vmdk_damaged_compressed_grain_is_rejected(tmp_path: Path, raw_disk: Path) -> None:
    image = make_image(tmp_path, raw_disk, "VMDK", "streamOptimized")
    first_grain = 128 * 512  # overHead: the first grain marker follows the lead-in
    lba, size = struct.unpack_from("<QI", image.read_bytes(), first_grain)
    assert (lba, size > 0) == (0, True)
    pristine = image.read_bytes()
    patched(image, first_grain + 12 + size // 2, b"\xff" * 8)
    with pytest.raises(ImageFormatError, match="cannot be decompressed"):
        blocks_of(image)
    image.write_bytes(pristine)
    patched(image, first_grain, struct.pack("<Q", 128))
    with pytest.raises(ImageFormatError, match="grain marker"):
        blocks_of(image)


def test_qcow2_header_features_are_rejected(tmp_path: Path) -> None:
    image = tmp_path / "disk.qcow2"
    with image.open("wb") as out:
        write_image(out, "QCOW2", 8 * MIB, [(1, b"\1" * BLOCK_SIZE)])
    pristine = image.read_bytes()
    for offset, value, message in [
        (32, struct.pack(">I", 1), "encrypted"),
        (4, struct.pack(">I", 1), "QCOW version 1"),
        (72, struct.pack(">Q", 1 << 1), "marked corrupt"),
        (72, struct.pack(">Q", 1 << 4), "extended L2"),
        (20, struct.pack(">I", 40), "cluster_bits"),
    ]:
        image.write_bytes(pristine)
        with pytest.raises(ImageFormatError, match=message):
            probe(patched(image, offset, value).read_bytes())
    image.write_bytes(pristine)
    patched(image, 72, struct.pack(">Q", 1))  # dirty bit alone is harmless for reading
    assert decode(image)[MIB : 2 * MIB] == b"\1" * MIB


@needs_qemu
def test_qcow2_compressed_and_backed_images_are_rejected(tmp_path: Path, raw_disk: Path) -> None:
    compressed = tmp_path / "compressed.qcow2"
    run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-c", raw_disk, compressed)
    with pytest.raises(ImageFormatError, match="compressed clusters"):
        blocks_of(compressed)
    overlay = tmp_path / "overlay.qcow2"
    run("qemu-img", "create", "-f", "qcow2", "-F", "qcow2", "-b", compressed, overlay)
    with pytest.raises(ImageFormatError, match="backing file"):
        probe(overlay.read_bytes()[:512])


def test_write_image_rejects_bad_arguments(tmp_path: Path) -> None:
    with (tmp_path / "x").open("wb") as out:
        with pytest.raises(ImageFormatError, match="not supported"):
            write_image(out, "VHD", MIB, [])
        with pytest.raises(ImageFormatError, match="subformat"):
            write_image(out, "VMDK", MIB, [], subformat="twoGbMaxExtentFlat")
        with pytest.raises(ValueError, match="ascending"):
            write_image(out, "QCOW2", 4 * MIB, [(2, b"\1" * BLOCK_SIZE), (1, b"\1" * BLOCK_SIZE)])
        with pytest.raises(ValueError, match="malformed"):
            write_image(out, "VMDK", 4 * MIB, [(0, b"\1" * (BLOCK_SIZE + 1))])
