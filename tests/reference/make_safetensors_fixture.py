#!/usr/bin/python3
"""Writes tests/reference/safetensors/mixed_dtypes.safetensors and its expected float32 values.

Debian ships no python3-safetensors, so the file is built by hand from the published format
(8-byte little-endian header length, JSON header padded with spaces to 8 bytes, then the byte buffer),
with the tensor bytes produced by PyTorch 1.13 and the expected float32 values produced by PyTorch's own
F16/BF16/F64 -> F32 conversion. Run with Debian's /usr/bin/python3 (python3-torch, python3-numpy).
"""
import json
import os
import struct

import torch

torch.manual_seed(20230828)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "safetensors")

f16 = torch.tensor([0.0, -1.5, 65504.0, 6.0e-8, 3.140625, -0.0, 1.0e-4], dtype=torch.float16)  # max, subnormal
tensors = {
    # name: (tensor, safetensors dtype); insertion order is the buffer order, header keys are written sorted
    "h.0.attn.c_attn.weight": (torch.randn(3, 4, dtype=torch.float32), "F32"),
    "wte.weight": (torch.randn(2, 3, dtype=torch.float32).to(torch.bfloat16), "BF16"),
    "f16.vector": (f16, "F16"),
    "big.bf16": (torch.randn(37, 5).to(torch.bfloat16), "BF16"),  # longer than one vector, odd tail
    "f64.scalar": (torch.tensor(2.718281828459045, dtype=torch.float64), "F64"),
    "token.ids": (torch.tensor([1, -2, 50256, 7], dtype=torch.int64), "I64"),
    "empty.f32": (torch.zeros(0, 3, dtype=torch.float32), "F32"),
}


def raw_bytes(t):
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: view the same bits as int16
        return t.contiguous().view(torch.int16).numpy().astype("<i2").tobytes()
    return t.contiguous().numpy().newbyteorder("<").tobytes() if t.numel() else b""


header = {"__metadata__": {"format": "pt", "generator": "make_safetensors_fixture.py"}}
buffer = bytearray()
for name, (t, dtype) in tensors.items():
    data = raw_bytes(t)
    header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [len(buffer), len(buffer) + len(data)]}
    buffer += data
header_bytes = json.dumps(dict(sorted(header.items())), separators=(",", ":")).encode("utf-8")
header_bytes += b" " * (-len(header_bytes) % 8)

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "mixed_dtypes.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(header_bytes)))
    f.write(header_bytes)
    f.write(buffer)

expected = {}
for name, (t, dtype) in tensors.items():
    entry = {"dtype": dtype, "shape": list(t.shape)}
    if dtype == "I64":
        entry["values"] = [int(v) for v in t.reshape(-1).tolist()]
    else:
        # float(x) of a float32 is exact, and Python's repr round-trips it.
        entry["values"] = [float(v) for v in t.to(torch.float32).reshape(-1).tolist()]
    expected[name] = entry
with open(os.path.join(OUT, "mixed_dtypes.expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
    f.write("\n")
print("wrote", OUT)
