#!/usr/bin/env python3
"""Didit's X-Signature-V2 canonical text, as Didit's documentation gives it in Python.

Reads a JSON array of bodies (strings) on stdin and writes a JSON array (ASCII-escaped for
transport) of their canonical texts:
    json.dumps(shorten_floats(json.loads(body)), sort_keys=True, separators=(",", ":"),
               ensure_ascii=False)
The simulator's tests run it to check diditsim.CanonicalV2 against Python itself, once for
all their bodies (Python starts slowly on a busy machine).
"""

import json
import sys


def shorten_floats(data):
    if isinstance(data, dict):
        return {k: shorten_floats(v) for k, v in data.items()}
    if isinstance(data, list):
        return [shorten_floats(v) for v in data]
    if isinstance(data, float) and data.is_integer():
        return int(data)
    return data


def canonical_v2(text):
    return json.dumps(shorten_floats(json.loads(text)), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


if __name__ == "__main__":
    bodies = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    sys.stdout.write(json.dumps([canonical_v2(b) for b in bodies], ensure_ascii=True))
