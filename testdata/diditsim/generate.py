#!/usr/bin/env python3
"""Regenerate pyjson_vectors.json: inputs and how Didit's Python serialises them.

Each vector holds a JSON text ("input") and two serialisations Python produces from
json.loads(input):
- "python": json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True), the
  serialisation of Didit's raw webhook body (X-Signature), which the simulator's Marshal must
  reproduce byte for byte;
- "v2": json.dumps(shorten_floats(obj), sort_keys=True, separators=(",", ":"),
  ensure_ascii=False), the canonical text Didit signs with X-Signature-V2 (shared/didit-api.md
  section 1.3), which the simulator's CanonicalV2 must reproduce byte for byte (as UTF-8).

Usage: python3 testdata/diditsim/generate.py   (Python 3 standard library only)
The simulator's tests also run canonical.py (next to this file) on bodies of their own.
"""

import json
import os

from canonical import canonical_v2

HERE = os.path.dirname(os.path.abspath(__file__))

INPUTS = [
    '{"b":1,"a":2,"c":{"z":null,"y":true,"x":false}}',
    '{"score":95.0,"age":34.2,"n":1e-05,"big":1e16,"bigger":1.5e16,"small":0.0001,"neg":-0.0,"int":42,"neg_int":-7}',
    '{"f":[0.1,1.0,100.0,123456789.125,1e22,5e-324,1.7976931348623157e308,2.5e-5]}',
    '{"name":"Ana Garc\\u00eda L\\u00f3pez","city":"M\\u00fcnchen","emoji":"\\ud83d\\ude00","cjk":"\\u4e2d\\u6587"}',
    '{"html":"<script>a && b</script>","quote":"say \\"hi\\"","slash":"a/b\\\\c"}',
    '{"ctl":"tab\\tnl\\ncr\\rbs\\bff\\fnul\\u0000us\\u001fdel\\u007f","ls":"\\u2028\\u2029"}',
    '{"\\u00e9":1,"e":2,"z":3,"Z":4,"_":5,"\\ud83d\\ude00":6}',
    '{"nested":[{"b":[1,2,{"d":4,"c":3}],"a":[]},{}],"empty":{},"s":""}',
    '{"exp_int":1E2,"frac_zero":3.000,"neg_exp":-2.5E-3}',
    # Whole floats that shorten_floats turns into exact integers, and integers kept as written.
    '{"w":[1e23,-1e22,123456789012345680000.0,9007199254740993.0,-5.0,0.0,-0.0,2.5,1e-7]}',
    '{"int_big":123456789012345678901234567890,"int_neg_zero":-0,"int_zero":0}',
    # Raw UTF-8 input (not escaped) and the characters ensure_ascii=False leaves raw.
    '{"raw":"Garc\u00eda \u20ac \U0001f600","del":"\u007f","ls":"\u2028"}',
    '{"decision":{"liveness_checks":[{"score":93.1,"age_estimation":34.0,"face_quality":82.4}],"aml_screenings":[{"score":0.0,"hits":[]}],"id_verifications":[{"full_name":"Ana Garc\u00eda L\u00f3pez","age":35}]},"timestamp":1780045046,"status":"Approved"}',
]


def main():
    vectors = []
    for text in INPUTS:
        obj = json.loads(text)
        vectors.append({
            "input": text,
            "python": json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True),
            "v2": canonical_v2(text),
        })
    with open(os.path.join(HERE, "pyjson_vectors.json"), "w") as f:
        json.dump(vectors, f, indent=1, ensure_ascii=True)
        f.write("\n")


if __name__ == "__main__":
    main()
