"""A GGUF file's scalar metadata and tensor table, read from its header alone.

gguf.GGUFReader decodes every metadata element first, about 15 s on the Qwen tokenizer's 150k
strings; checking an adapter against its base must not wait for that, so arrays are skipped over
unread. (`lsp_server.models.gguf_file` walks headers the same way but keeps only where the data
ends; this keeps names, shapes and values too.)
"""

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

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

Scalar = int | float | bool | str


@dataclass(frozen=True)
class GgufTensor:
    name: str
    # ggml order, the reverse of PyTorch's: shape[0] is the length of a row.
    shape: tuple[int, ...]
    type: int
    offset: int  # from the start of the data section
    n_bytes: int


@dataclass(frozen=True)
class GgufHeader:
    metadata: dict[str, Scalar]  # every scalar and string value; arrays are left out
    tensors: dict[str, GgufTensor]
    data_start: int
    file_size: int

    @property
    def data_end(self) -> int:
        return self.data_start + max(
            (t.offset + t.n_bytes for t in self.tensors.values()), default=0
        )


def read_gguf_header(path: Path) -> GgufHeader:
    """Parse the header; ValueError (saying what is wrong) for a file that is not a whole GGUF."""
    with path.open("rb") as file:
        size = path.stat().st_size
        if size < 24:
            raise ValueError(f"only {size} bytes, too short for a GGUF header")
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            if data[:4] != b"GGUF":
                raise ValueError("it does not start with the GGUF magic")
            try:
                header = _Walker(data).header(size)
            except struct.error as exc:
                raise ValueError(f"its header runs past the end of the file ({exc})") from exc
    if header.data_end > size:
        raise ValueError(
            f"it is truncated: its tensors need {header.data_end} bytes, the file has {size}"
        )
    return header


class _Walker:
    def __init__(self, data: mmap.mmap) -> None:
        self.data = data
        self.pos = 4

    def unpack(self, fmt: str) -> int | float | bool:
        value = struct.unpack_from("<" + fmt, self.data, self.pos)[0]
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
        metadata: dict[str, Scalar] = {}
        for _ in range(n_kv):
            key = self.string()
            kind = int(self.unpack("I"))
            if kind == GGUFValueType.ARRAY:
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

    def skip_array(self) -> None:
        kind, n = int(self.unpack("I")), self.count()
        if kind in _SCALARS:
            self.pos += n * struct.calcsize(_SCALARS[GGUFValueType(kind)])
        elif kind == GGUFValueType.STRING:
            for _ in range(n):
                self.pos += 8 + struct.unpack_from("<Q", self.data, self.pos)[0]
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
        if kind not in GGML_QUANT_SIZES:
            raise ValueError(f"tensor {name!r} has unknown type {kind}")
        block, type_size = GGML_QUANT_SIZES[kind]
        n_elements = 1
        for dim in shape:
            n_elements *= dim
        return GgufTensor(name, shape, kind, offset, n_elements * type_size // block)
