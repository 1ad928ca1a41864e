#!/usr/bin/env python3
"""Read an OutlierLab golden: python3 read_golden.py FILE.golden.gz"""
import gzip, hashlib, json, sys
import numpy as np

DTYPES = {"F32": "<f4", "F64": "<f8", "I64": "<i8", "U8": "u1"}

def read_golden(path):
    raw = gzip.decompress(open(path, "rb").read())
    magic, length, rest = raw.split(b"\n", 2)
    kind, version = magic.split(b" ")
    if kind != b"OLGOLDEN" or int(version) > 1:
        raise ValueError(f"{path}: not a golden this reader knows ({magic!r})")
    header, data = json.loads(rest[: int(length)]), rest[int(length):]
    tensors = {t["name"]: np.frombuffer(data, DTYPES[t["dtype"]], int(np.prod(t["shape"])),
                                        t["offset"]).reshape(t["shape"]) for t in header["tensors"]}
    return header, tensors

if __name__ == "__main__":
    header, tensors = read_golden(sys.argv[1])
    print(header["suite"] + "/" + header["case"], header["recorded_by"]["harness_version"])
    for t in header["tensors"]:
        a = tensors[t["name"]]
        print(t["name"], a.dtype.str, list(a.shape), t["compare"]["mode"],
              hashlib.sha256(a.tobytes()).hexdigest())
