"""Checking a GGUF file: a cheap structural check from its header, and its sha256."""

from __future__ import annotations

import hashlib
import mmap
import stat
import struct
from pathlib import Path

from gguf import GGML_QUANT_SIZES, GGUFValueType

from lsp_server.errors import ModelError

from .progress import ProgressFn, no_progress

_HASH_CHUNK = 8 << 20


def validate_gguf(path: Path, expected_size: int | None = None) -> None:
    """Check cheaply (no hashing) that `path` is a whole GGUF file; raise ModelError if not."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ModelError(f"Model file {path} does not exist.") from None
    except OSError as err:
        raise ModelError(f"Cannot read model file {path}: {err.strerror}.") from err
    if not stat.S_ISREG(info.st_mode):
        raise ModelError(f"Model file {path} is not a regular file.")
    with path.open("rb") as file:
        magic = file.read(4)
    if magic != b"GGUF":
        raise ModelError(f"Model file {path} is not a GGUF file (it does not start with 'GGUF').")
    if expected_size is not None and info.st_size != expected_size:
        raise ModelError(
            f"Model file {path} has {info.st_size} bytes, expected {expected_size}: it is "
            "truncated or a different file. Delete it and download it again."
        )
    data_end = _gguf_data_end(path)
    if data_end > info.st_size:
        raise ModelError(
            f"Model file {path} is truncated: its tensors need {data_end} bytes but the file "
            f"has {info.st_size}. Delete it and download it again."
        )


def verify_checksum(path: Path, sha256: str, progress: ProgressFn | None = None) -> None:
    """Hash `path` and raise ModelError naming both digests when it is not `sha256`."""
    actual = sha256_of(path, progress or no_progress)
    if actual != sha256.lower():
        raise ModelError(
            f"Checksum mismatch for {path}: expected sha256 {sha256.lower()}, got {actual}. "
            "The file is damaged or is not this model."
        )


def sha256_of(path: Path, progress: ProgressFn) -> str:
    """The hex sha256 of `path`, hashed a chunk at a time."""
    digest = hashlib.sha256()
    try:
        total = path.stat().st_size
        done = 0
        with path.open("rb") as file:
            while chunk := file.read(_HASH_CHUNK):
                digest.update(chunk)
                done += len(chunk)
                progress(f"Verifying {path.name}", done, total)
    except OSError as err:
        raise ModelError(f"Cannot read model file {path}: {err.strerror}.") from err
    return digest.hexdigest()


# Byte sizes of GGUF metadata scalars; strings and arrays are variable-length.
_SCALAR_SIZES = {
    GGUFValueType.UINT8: 1,
    GGUFValueType.INT8: 1,
    GGUFValueType.BOOL: 1,
    GGUFValueType.UINT16: 2,
    GGUFValueType.INT16: 2,
    GGUFValueType.UINT32: 4,
    GGUFValueType.INT32: 4,
    GGUFValueType.FLOAT32: 4,
    GGUFValueType.UINT64: 8,
    GGUFValueType.INT64: 8,
    GGUFValueType.FLOAT64: 8,
}
_GGUF_VERSIONS = (2, 3)
_GGUF_MAX_DIMS = 4
_GGUF_DEFAULT_ALIGNMENT = 32


def _gguf_data_end(path: Path) -> int:
    """Offset just past the last tensor's data, read from the header alone.

    gguf.GGUFReader would do this too, but it builds a numpy view of every metadata element and
    takes about 10 s on a Qwen tokenizer's 300k strings; skipping over values takes milliseconds.
    """
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        try:
            return _HeaderWalker(data).data_end()
        except (struct.error, ValueError) as err:
            raise ModelError(
                f"Model file {path} is damaged or truncated: its GGUF header cannot be read "
                f"({err}). Delete it and download it again."
            ) from err


class _HeaderWalker:
    """Walks a GGUF header in a buffer, skipping metadata values without decoding them."""

    def __init__(self, data: mmap.mmap) -> None:
        self.data = data
        self.pos = 4  # past the magic
        order = "<" if struct.unpack_from("<I", data, 4)[0] & 0xFFFF else ">"
        self.u32 = struct.Struct(order + "I")
        self.u64 = struct.Struct(order + "Q")
        self.order = order

    def data_end(self) -> int:
        version = self.read(self.u32)
        if version not in _GGUF_VERSIONS:
            raise ValueError(f"unsupported GGUF version {version}")
        tensor_count = self.read(self.u64)
        kv_count = self.read(self.u64)
        alignment = _GGUF_DEFAULT_ALIGNMENT
        for _ in range(kv_count):
            key = self.string()
            value_type = self.read(self.u32)
            if key == b"general.alignment" and value_type == GGUFValueType.UINT32:
                alignment = self.read(self.u32)
            else:
                self.skip_value(value_type)
        if alignment <= 0 or alignment & (alignment - 1):
            raise ValueError(f"alignment {alignment} is not a power of two")
        tensors_end = max((self.tensor_end() for _ in range(tensor_count)), default=0)
        data_start = -(-self.pos // alignment) * alignment
        return data_start + tensors_end

    def tensor_end(self) -> int:
        """Read one tensor description; return where its data ends, relative to the data start."""
        self.string()
        n_dims = self.read(self.u32)
        if n_dims > _GGUF_MAX_DIMS:
            raise ValueError(f"tensor with {n_dims} dimensions")
        dims = struct.unpack_from(f"{self.order}{n_dims}Q", self.data, self.pos)
        self.skip(8 * n_dims)
        tensor_type = self.read(self.u32)
        offset = self.read(self.u64)
        n_elements = 1
        for dim in dims:
            n_elements *= dim
        # A type newer than the installed gguf package: count only its offset, a lower bound.
        block_size, type_size = GGML_QUANT_SIZES.get(tensor_type, (1, 0))
        return offset + n_elements * type_size // block_size

    def read(self, field: struct.Struct) -> int:
        value = field.unpack_from(self.data, self.pos)[0]
        self.pos += field.size
        return value

    def skip(self, n_bytes: int) -> None:
        self.pos += n_bytes
        self.check_bounds()

    def check_bounds(self) -> None:
        if self.pos > len(self.data):
            raise ValueError("header runs past the end of the file")

    def string(self) -> bytes:
        length = self.read(self.u64)
        start = self.pos
        self.skip(length)
        return self.data[start : self.pos]

    def skip_value(self, value_type: int) -> None:
        if value_type in _SCALAR_SIZES:
            self.skip(_SCALAR_SIZES[value_type])
        elif value_type == GGUFValueType.STRING:
            self.skip(self.read(self.u64))
        elif value_type == GGUFValueType.ARRAY:
            self.skip_array()
        else:
            raise ValueError(f"unknown metadata value type {value_type}")

    def skip_array(self) -> None:
        item_type = self.read(self.u32)
        count = self.read(self.u64)
        if item_type in _SCALAR_SIZES:
            self.skip(count * _SCALAR_SIZES[item_type])
        elif item_type == GGUFValueType.STRING:
            # Tokenizer vocabularies are arrays of ~150k strings: keep this loop tight.
            unpack, data, pos = self.u64.unpack_from, self.data, self.pos
            for _ in range(count):
                pos += 8 + unpack(data, pos)[0]
            self.pos = pos
            self.check_bounds()
        else:
            for _ in range(count):
                self.skip_value(item_type)
