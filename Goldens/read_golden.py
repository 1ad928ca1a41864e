#!/usr/bin/env python3
"""Read an OutlierLab golden: python3 read_golden.py FILE.golden.gz"""
import gzip, hashlib, json, os, re, sys
import numpy as np

DTYPES = {"F32": "<f4", "F64": "<f8", "I64": "<i8", "U8": "u1"}
SCHEMA = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden-header.schema.json")))
TYPES = {"object": dict, "array": list, "string": str, "number": (int, float), "integer": int}

def check(value, schema, where="header"):
    """Validates value against the subset of JSON Schema that golden-header.schema.json uses."""
    if "oneOf" in schema:
        if sum(not check_errors(value, s, where) for s in schema["oneOf"]) != 1:
            raise ValueError(f"{where}: matches none of the allowed forms")
        return
    kind = schema.get("type")
    if kind and (not isinstance(value, TYPES[kind]) or isinstance(value, bool)):
        raise ValueError(f"{where}: expected {kind}, got {type(value).__name__}")
    if "const" in schema and value != schema["const"] or value not in schema.get("enum", [value]):
        raise ValueError(f"{where}: value {value!r} is not allowed")
    if value.__class__ in (int, float) and value < schema.get("minimum", value):
        raise ValueError(f"{where}: {value} is below {schema['minimum']}")
    if isinstance(value, str) and (len(value) < schema.get("minLength", 0) or not re.search(schema.get("pattern", ""), value)):
        raise ValueError(f"{where}: {value!r} has the wrong form")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                raise ValueError(f"{where}: missing {key}")
        for key, item in value.items():
            if key in schema.get("properties", {}):
                check(item, schema["properties"][key], f"{where}.{key}")
            elif schema.get("additionalProperties", True) is False:
                raise ValueError(f"{where}: unknown field {key}")
        for rule in schema.get("allOf", []):
            if not check_errors(value, rule["if"], where):
                check(value, rule["then"], where)
    if isinstance(value, list):
        for i, item in enumerate(value):
            check(item, schema.get("items", {}), f"{where}[{i}]")

def check_errors(value, schema, where):
    try:
        check(value, schema, where)
    except ValueError as error:
        return str(error)

def read_golden(path):
    raw = gzip.decompress(open(path, "rb").read())
    magic, length, rest = raw.split(b"\n", 2)
    kind, version = magic.split(b" ")
    if kind != b"OLGOLDEN" or int(version) > 1:
        raise ValueError(f"{path}: not a golden this reader knows ({magic!r})")
    header, data = json.loads(rest[: int(length)]), rest[int(length):]
    check(header, SCHEMA, path)
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
