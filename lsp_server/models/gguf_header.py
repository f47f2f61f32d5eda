"""A GGUF file's header (metadata and tensor table), read without loading the file.

gguf.GGUFReader decodes every metadata element into numpy views first, 10-15 s on a Qwen
tokenizer's 150k strings; checking that a model is whole, refusing an architecture an engine
cannot run, or checking an adapter against its base must not wait for that. So arrays are
skipped over unread unless asked for by key.
"""

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gguf import GGML_QUANT_SIZES, GGUFValueType

_SCALARS = {
    GGUFValueType.UINT8: "B",
    GGUFValueType.INT8: "b",
    GGUFValueType.UINT16: "H",
    GGUFValueType.INT16: "h",
    GGUFValueType.UINT32: "I",
    GGUFValueType.INT32: "i",
    GGUFValueType.FLOAT32: "f",
    GGUFValueType.BOOL: "?",
    GGUFValueType.UINT64: "Q",
    GGUFValueType.INT64: "q",
    GGUFValueType.FLOAT64: "d",
}
_VERSIONS = (2, 3)
_MAX_DIMS = 4
_DEFAULT_ALIGNMENT = 32


@dataclass(frozen=True)
class GgufTensor:
    name: str
    # ggml order, the reverse of PyTorch's: shape[0] is the length of a row.
    shape: tuple[int, ...]
    type: int
    offset: int  # from the start of the data section
    # 0 for a type newer than the installed gguf package, so data_end is then a lower bound.
    n_bytes: int


@dataclass(frozen=True)
class GgufHeader:
    # Every scalar and string value, and the arrays asked for by key (as lists).
    metadata: dict[str, Any]
    tensors: dict[str, GgufTensor]
    data_start: int
    file_size: int

    @property
    def data_end(self) -> int:
        return self.data_start + max(
            (t.offset + t.n_bytes for t in self.tensors.values()), default=0
        )

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", ""))


def read_gguf_header(path: Path, arrays: frozenset[str] = frozenset()) -> GgufHeader:
    """Parse the header of `path`, decoding the metadata arrays named in `arrays`.

    ValueError, saying what is wrong, for a file that is not a whole GGUF file (OSError when it
    cannot be read at all).
    """
    with path.open("rb") as file:
        size = path.stat().st_size
        if size < 24:
            raise ValueError(f"only {size} bytes, too short for a GGUF header")
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if data[:4] != b"GGUF":
                raise ValueError("it does not start with the GGUF magic")
            try:
                header = _Walker(data, arrays).header(size)
            except struct.error as exc:
                raise ValueError(f"its header runs past the end of the file ({exc})") from exc
    if header.data_end > size:
        raise ValueError(
            f"it is truncated: its tensors need {header.data_end} bytes, the file has {size}"
        )
    return header


class _Walker:
    def __init__(self, data: mmap.mmap, arrays: frozenset[str]) -> None:
        self.data = data
        self.arrays = arrays
        self.pos = 4
        # A big-endian file's version reads as a huge number in little-endian order.
        self.order = "<" if struct.unpack_from("<I", data, 4)[0] & 0xFFFF else ">"

    def unpack(self, fmt: str) -> Any:
        value = struct.unpack_from(self.order + fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def count(self) -> int:
        return int(self.unpack("Q"))

    def string(self) -> str:
        length = self.count()
        if self.pos + length > len(self.data):
            raise ValueError("a string runs past the end of the file")
        raw = self.data[self.pos : self.pos + length]
        self.pos += length
        return raw.decode("utf-8", "replace")

    def header(self, size: int) -> GgufHeader:
        version = self.unpack("I")
        if version not in _VERSIONS:
            raise ValueError(f"unsupported GGUF version {version}")
        n_tensors, n_kv = self.count(), self.count()
        metadata: dict[str, Any] = {}
        for _ in range(n_kv):
            key = self.string()
            kind = int(self.unpack("I"))
            if kind == GGUFValueType.ARRAY:
                if key in self.arrays:
                    metadata[key] = self.array()
                else:
                    self.skip_array()
            elif kind == GGUFValueType.STRING:
                metadata[key] = self.string()
            elif kind in _SCALARS:
                metadata[key] = self.unpack(_SCALARS[GGUFValueType(kind)])
            else:
                raise ValueError(f"metadata {key!r} has unknown type {kind}")
        tensors: dict[str, GgufTensor] = {}
        for _ in range(n_tensors):
            tensor = self.tensor()
            tensors[tensor.name] = tensor
        alignment = metadata.get("general.alignment", _DEFAULT_ALIGNMENT)
        if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
            raise ValueError(f"alignment {alignment} is not a power of two")
        data_start = -(-self.pos // alignment) * alignment
        return GgufHeader(metadata, tensors, data_start, size)

    def array(self) -> list[Any]:
        kind, n = int(self.unpack("I")), self.count()
        if kind in _SCALARS:
            fmt = _SCALARS[GGUFValueType(kind)]
            values = struct.unpack_from(f"{self.order}{n}{fmt}", self.data, self.pos)
            self.pos += n * struct.calcsize(fmt)
            return list(values)
        if kind == GGUFValueType.STRING:
            return [self.string() for _ in range(n)]
        raise ValueError(f"array of unsupported type {kind}")

    def skip_array(self) -> None:
        kind, n = int(self.unpack("I")), self.count()
        if kind in _SCALARS:
            self.pos += n * struct.calcsize(_SCALARS[GGUFValueType(kind)])
        elif kind == GGUFValueType.STRING:
            # Tokenizer vocabularies are arrays of ~150k strings: keep this loop tight.
            unpack, data, pos = struct.Struct(self.order + "Q").unpack_from, self.data, self.pos
            for _ in range(n):
                pos += 8 + unpack(data, pos)[0]
            self.pos = pos
        elif kind == GGUFValueType.ARRAY:
            for _ in range(n):
                self.skip_array()
        else:
            raise ValueError(f"array of unsupported type {kind}")
        if self.pos > len(self.data):
            raise ValueError("an array runs past the end of the file")

    def tensor(self) -> GgufTensor:
        name = self.string()
        n_dims = int(self.unpack("I"))
        if not 1 <= n_dims <= _MAX_DIMS:
            raise ValueError(f"tensor {name!r} has {n_dims} dimensions")
        shape = tuple(int(self.unpack("Q")) for _ in range(n_dims))
        kind, offset = int(self.unpack("I")), self.count()
        block, type_size = GGML_QUANT_SIZES.get(kind, (1, 0))
        n_elements = 1
        for dim in shape:
            n_elements *= dim
        return GgufTensor(name, shape, kind, offset, n_elements * type_size // block)
