"""Minimal safetensors reader/writer on numpy, independent of the engine's loader.

Format (wan21.md §5 "Loading notes"): 8-byte little-endian header length N, N bytes of JSON
header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}, then raw
little-endian data; offsets are relative to the end of the header.
"""

import json
import os
import struct

import numpy as np

_NP_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}


def _bf16_to_f32(raw: np.ndarray) -> np.ndarray:
    """bf16 is the top half of an f32: widen the 16-bit pattern by a 16-bit left shift."""
    return (raw.astype(np.uint32) << 16).view(np.float32)


def read_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return header, 8 + n


def read_file(path, names=None):
    """Returns {name: ndarray}; BF16 is widened to float32, other dtypes keep their numpy type."""
    header, data_start = read_header(path)
    out = {}
    with open(path, "rb") as f:
        for name, info in header.items():
            if name == "__metadata__" or (names is not None and name not in names):
                continue
            begin, end = info["data_offsets"]
            f.seek(data_start + begin)
            raw = f.read(end - begin)
            dtype = info["dtype"]
            shape = tuple(info["shape"])
            if dtype == "BF16":
                arr = _bf16_to_f32(np.frombuffer(raw, dtype="<u2"))
            elif dtype in _NP_DTYPES:
                arr = np.frombuffer(raw, dtype=np.dtype(_NP_DTYPES[dtype]).newbyteorder("<"))
            else:
                raise ValueError(f"{path}: tensor {name}: unsupported dtype {dtype}")
            expected = int(np.prod(shape)) if shape else 1
            if arr.size != expected:
                raise ValueError(f"{path}: tensor {name}: {arr.size} elements, shape {shape} needs {expected}")
            out[name] = arr.reshape(shape).copy()
    return out


def read_metadata(path):
    header, _ = read_header(path)
    return header.get("__metadata__", {})


def load_dir(directory, stem):
    """Loads a component folder: `<stem>.safetensors.index.json` (sharded) if present, else `<stem>.safetensors`."""
    index = os.path.join(directory, stem + ".safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        tensors = {}
        for shard in sorted(set(weight_map.values())):
            wanted = {k for k, v in weight_map.items() if v == shard}
            got = read_file(os.path.join(directory, shard), wanted)
            missing = wanted - got.keys()
            if missing:
                raise ValueError(f"{index}: shard {shard} lacks {sorted(missing)[:5]}")
            tensors.update(got)
        return tensors
    single = os.path.join(directory, stem + ".safetensors")
    if os.path.exists(single):
        return read_file(single)
    raise FileNotFoundError(f"neither {index} nor {single} exists")


_ST_DTYPES = {np.dtype(v).name: k for k, v in _NP_DTYPES.items()}


def write_file(path, tensors, metadata=None, bf16=()):
    """Writes {name: ndarray}. Names in `bf16` are stored as BF16 (round-to-nearest-even)."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        if name in bf16:
            bits = arr.astype(np.float32).view(np.uint32).astype(np.uint64)
            rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
            blob = rounded.astype("<u2").tobytes()
            dtype = "BF16"
        else:
            dtype = _ST_DTYPES[arr.dtype.name]
            blob = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
