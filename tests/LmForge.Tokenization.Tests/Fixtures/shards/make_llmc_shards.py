#!/usr/bin/python3
"""Writes two token shards the way llm.c's dev/data/data_common.py write_datafile does (numpy header of
256 int32: magic, version, count; then the tokens as uint16 for "gpt-2" or uint32 for "llama-3").
The C# tests check that TokenShardWriter produces the same bytes and TokenShardReader reads them back.
Regenerate: /usr/bin/python3 make_llmc_shards.py (needs numpy)."""
import numpy as np

HEADERS_INFO = {
    "gpt-2": {"magic": 20240520, "version": 1, "token_dtype": np.uint16},
    "llama-3": {"magic": 20240801, "version": 7, "token_dtype": np.uint32},
}

def write_datafile(filename, toks, model_desc):
    info = HEADERS_INFO[model_desc]
    header = np.zeros(256, dtype=np.int32)
    header[0] = info["magic"]
    header[1] = info["version"]
    header[2] = len(toks)
    toks_np = np.array(toks, dtype=info["token_dtype"])
    with open(filename, "wb") as f:
        f.write(header.tobytes())
        f.write(toks_np.tobytes())

rng = np.random.default_rng(20230828)
gpt2 = [50256] + rng.integers(0, 50257, size=999).tolist()
llama = [128000] + rng.integers(0, 128256, size=499).tolist()
write_datafile("gpt2_uint16.bin", gpt2, "gpt-2")
write_datafile("llama3_uint32.bin", llama, "llama-3")
with open("gpt2_uint16.tokens.txt", "w") as f:
    f.write(" ".join(map(str, gpt2)) + "\n")
with open("llama3_uint32.tokens.txt", "w") as f:
    f.write(" ".join(map(str, llama)) + "\n")
