#!/usr/bin/env python3
"""Regenerate pyjson_vectors.json: inputs and how Didit's Python serialises them.

Each vector holds a JSON text ("input") and the bytes Python's
json.dumps(json.loads(input), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
produces ("python") -- the serialisation of Didit's raw webhook body, which the simulator's
Marshal must reproduce byte for byte.

Usage: python3 testdata/diditsim/generate.py   (Python 3 standard library only)
"""

import json
import os

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
]


def main():
    vectors = []
    for text in INPUTS:
        obj = json.loads(text)
        vectors.append({
            "input": text,
            "python": json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True),
        })
    with open(os.path.join(HERE, "pyjson_vectors.json"), "w") as f:
        json.dump(vectors, f, indent=1, ensure_ascii=True)
        f.write("\n")


if __name__ == "__main__":
    main()
