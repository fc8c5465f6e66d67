#!/usr/bin/env python3
"""Regenerate vectors.json: X-Signature-V2 test vectors computed by CPython's json module.

Each case is a body as a proxy might deliver it (pretty-printed, shuffled, escaped or
raw Unicode, duplicate keys, odd whitespace) and what Didit's recipe makes of it:

    canonical = json.dumps(shorten_floats(json.loads(body)), sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    signature_v2  = hex(HMAC_SHA256(secret, canonical))
    signature_raw = hex(HMAC_SHA256(secret, body))

Cases where Python raises carry "error" (a reason code of internal/webhook) instead.
Deterministic: the random cases use a fixed seed.

Usage: python3 testdata/signatures/generate.py   (Python 3.11+, standard library only)
"""

import hashlib
import hmac
import json
import math
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SECRET = "whsec_vectors_2Jd8QwZr5Lk0pX7mNb3Vc9"


def shorten_floats(data):
    if isinstance(data, dict):
        return {k: shorten_floats(v) for k, v in data.items()}
    if isinstance(data, list):
        return [shorten_floats(v) for v in data]
    if isinstance(data, float) and data.is_integer():
        return int(data)
    return data


def canonicalize(body: bytes) -> bytes:
    return json.dumps(shorten_floats(json.loads(body)), sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(secret: str, msg: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), msg, hashlib.sha256).hexdigest()


def reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeEncodeError):
        return "lone_surrogate"
    if isinstance(exc, json.JSONDecodeError):
        return "invalid_json"
    if isinstance(exc, ValueError) and "digits" in str(exc):
        return "integer_too_long"
    if isinstance(exc, RecursionError):
        return "too_deep"
    raise exc


CASES = [
    ("accents", '{"name": "Ana García López", "city": "Málaga", "note": "ñandú über ça"}'),
    ("accents_escaped", '{"name":"Ana Garc\\u00eda L\\u00f3pez","city":"M\\u00e1laga"}'),
    ("accents_uppercase_hex", '{"name":"Ana Garc\\u00EDa L\\u00F3pez"}'),
    ("cjk_raw", '{"city": "東京", "ward": "渋谷区", "note": "日本語のテキスト"}'),
    ("cjk_escaped", '{"city":"\\u6771\\u4eac","ward":"\\u6e0b\\u8c37\\u533a"}'),
    ("emoji_raw", '{"mood": "😀", "flags": "🇪🇸🇯🇵", "mixed": "a😀b"}'),
    ("emoji_escaped_pair", '{"mood": "\\ud83d\\ude00", "mixed": "a\\ud83d\\ude00b"}'),
    ("emoji_escaped_uppercase", '{"mood": "\\uD83D\\uDE00"}'),
    ("max_code_point", '["\\udbff\\udfff", "\U0010ffff"]'),
    ("quotes_backslashes", r'{"q": "she said \"hi\"", "path": "C:\\Users\\ana", "slash": "a\/b", "mix": "\\\"\\"}'),
    ("control_escapes", r'{"s": "\b\f\n\r\t", "u": "\u0000\u0001\u001f\u0008\u000c\u000a\u000d\u0009", "del": "\u007f"}'),
    ("html_chars", '{"html": "<script>alert(1)</script> & co", "esc": "\\u003c\\u003e\\u0026"}'),
    ("line_separators", '{"raw": "a\u2028b\u2029c", "escaped": "a\\u2028b\\u2029c"}'),
    ("del_raw", '{"del": "a\x7fb"}'),
    ("bom_and_nonchar", '{"bom": "\\ufeff", "nonchar": "\\uffff\\ufffe", "replacement": "\\ufffd"}'),
    ("whole_floats", '{"a": 1.0, "b": 95.0, "c": -0.0, "d": 0.0, "e": -5.0, "f": 100.00, "g": 2.50e1}'),
    ("whole_floats_exponent", '[1e16, 1E16, 1e+16, 1.23e+16, 1.5e300, 1.7976931348623157e308, -1e22, 1e0, 12e-1, 5e-1]'),
    ("small_floats", '[0.1, 0.2, 0.30000000000000004, 1e-05, 0.00001, 0.0001, 0.001234, 1e-7, 2.5E-7, -1e-05, 5e-324, 2.2250738585072014e-308]'),
    ("repr_boundaries", '[123456789012345.6, 1234567890123456.7, 99999999999999.99, 0.000123, 9.999999999999999e-05, 123456789.123, 3.141592653589793, -2.718281828459045]'),
    ("float_spellings", '[0.10, 1.50, 1.5e0, 15e-1, 0.15E1, 150e-2, 1.0000000000000001, 0.1000000000000000055511151231257827]'),
    ("overflow_underflow", '[1e400, -1e400, 1e-400, -1e-400, 0e999]'),
    ("non_finite_literals", '[NaN, Infinity, -Infinity, {"x": NaN}]'),
    ("integers", '[0, -0, 1, -1, 9007199254740991, 9007199254740993, -9007199254740993, 18446744073709551615, 18446744073709551617, 123456789012345678901234567890, -123456789012345678901234567890]'),
    ("integer_4300_digits", "[" + "9" * 4300 + "]"),
    ("integer_4301_digits", "[" + "9" * 4301 + "]"),
    ("negative_numbers", '{"a": -1, "b": -1.5, "c": -0.001, "d": -1e-10, "e": -123456789.123}'),
    ("empty_containers", '{"o": {}, "a": [], "aa": [[]], "oa": [{}], "ao": {"x": []}, "s": ""}'),
    ("empty_top_object", '{}'),
    ("empty_top_array", '[]'),
    ("top_level_string", '"h\\u00e9llo"'),
    ("top_level_whole_float", '  42.0  '),
    ("top_level_null", 'null'),
    ("nested", '{"z": {"y": {"x": [1, {"w": [2.0, {"v": "deep"}]}]}}, "a": {"c": 3, "b": 2}}'),
    ("duplicate_keys", '{"a": 1, "b": 2, "a": 3, "c": {"d": 1, "d": {"e": 2.0}}, "a": 4}'),
    ("duplicate_keys_escaped", '{"\\u00e9": 1, "é": 2, "e\\u0301": 3}'),
    ("duplicate_key_drops_lone_surrogate", '{"a": "\\ud800", "a": "ok"}'),
    ("key_code_point_order", '{"a": 1, "B": 2, "é": 3, "日本": 4, "😀": 5, "\uff61": 6, "\U0001f600x": 7, "": 8, "a\\u0000": 9, "Z": 10, "_": 11}'),
    ("key_astral_vs_bmp", '{"\uffff": 1, "\U00010000": 2, "\ue000": 3}'),
    ("booleans_null", '{"t": true, "f": false, "n": null, "l": [true, false, null]}'),
    ("whitespace_everywhere", ' \n\t{ \r\n "a" \t:\n [ 1 ,\t2.0 , { "b"\r:\rnull } ] , "c" : "x" \n}\n\t '),
    ("already_canonical", '{"a":[1,2,{"b":"c"}],"d":"é"}'),
    ("deep_nesting", "[" * 64 + '{"k":1.0}' + "]" * 64),
    ("lone_high_surrogate", '{"s": "\\ud83d"}'),
    ("lone_low_surrogate", '{"s": "\\ude00"}'),
    ("reversed_surrogates", '["\\ude00\\ud83d"]'),
    ("high_then_char", '["\\ud83dx"]'),
    ("lone_surrogate_key", '{"\\udc00": 1}'),
    ("invalid_trailing_comma", '{"a": 1,}'),
    ("invalid_single_quotes", "{'a': 1}"),
    ("invalid_leading_zero", '[01]'),
    ("invalid_raw_control", '["a\tb"]'),
    ("invalid_escape", '["\\x41"]'),
    ("invalid_short_unicode", '["\\u12"]'),
    ("invalid_extra_data", '{} {}'),
    ("invalid_empty", ''),
    ("invalid_dot", '[1.]'),
    ("invalid_exponent", '[1e]'),
    ("invalid_plus", '[+1]'),
    ("invalid_hex_number", '[0x10]'),
    ("invalid_nan_lowercase", '[nan]'),
    ("invalid_negative_nan", '[-NaN]'),
]


# ---- random cases: Python's own parser is the oracle for what the text means ----

def rand_string(r):
    pools = [
        "abcXYZ019 _-./:",
        "áéíóúñçüÁÉÍÓÚÑ",
        "東京日本語渋谷区",
        "😀🇪🇸🎉𝄞",
        "\"\\\b\f\n\r\t\x00\x01\x1f\x7f",
        "<>&'\u2028\u2029\ufeff\uffff",
    ]
    return "".join(r.choice(r.choice(pools)) for _ in range(r.randint(0, 12)))


def rand_float(r):
    kind = r.randrange(6)
    if kind == 0:
        return float(r.randint(-10**6, 10**6))  # whole
    if kind == 1:
        return r.uniform(-1000, 1000)
    if kind == 2:
        return r.choice([-1, 1]) * 10 ** r.uniform(-30, 30)
    if kind == 3:
        return round(r.uniform(0, 100), r.randint(0, 4))
    if kind == 4:
        while True:
            f = struct.unpack("<d", r.getrandbits(64).to_bytes(8, "little"))[0]
            if math.isfinite(f):
                return f
    return r.choice([1e-5, 1e-4, 1e15, 1e16, 9.999999999999999e15, 1e-323, 0.5, -0.0])


def rand_value(r, depth):
    k = r.randrange(9 if depth < 5 else 6)
    if k == 0:
        return rand_string(r)
    if k == 1:
        return rand_float(r)
    if k == 2:
        return r.choice([r.randint(-100, 100), r.randint(-2**70, 2**70)])
    if k == 3:
        return r.choice([True, False, None])
    if k in (4, 5):
        return rand_string(r) if r.random() < 0.5 else rand_float(r)
    if k in (6, 7):
        # objects as pair lists so that duplicate keys can be written
        keys = [rand_string(r) for _ in range(r.randint(0, 5))]
        if keys and r.random() < 0.3:
            keys.append(r.choice(keys))
        return ("obj", [(key, rand_value(r, depth + 1)) for key in keys])
    return [rand_value(r, depth + 1) for _ in range(r.randint(0, 5))]


def ws(r):
    return "".join(r.choice(" \t\n\r") for _ in range(r.choice([0, 0, 0, 1, 2])))


def write_string(r, s):
    out = ['"']
    for ch in s:
        cp = ord(ch)
        esc = r.random() < 0.3
        if ch == '"' or ch == "\\" or cp < 0x20:
            short = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
            out.append(short[ch] if ch in short and r.random() < 0.5 else "\\u%04x" % cp)
        elif ch == "/" and esc:
            out.append("\\/")
        elif esc and cp > 0xFFFF:
            hi, lo = 0xD800 + ((cp - 0x10000) >> 10), 0xDC00 + ((cp - 0x10000) & 0x3FF)
            fmt = "\\u%04X\\u%04X" if r.random() < 0.5 else "\\u%04x\\u%04x"
            out.append(fmt % (hi, lo))
        elif esc:
            out.append(("\\u%04X" if r.random() < 0.5 else "\\u%04x") % cp)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def write_float(r, f):
    spellings = [repr(f), "%.17g" % f, "%.20e" % f, "%r" % f]
    s = r.choice(spellings)
    if s in ("inf", "-inf", "nan"):
        s = repr(f)
    if "." not in s and "e" not in s and "E" not in s:
        s += ".0"  # keep it a float literal
    if r.random() < 0.2:
        s = s.replace("e", "E")
    return s


def write(r, v):
    if isinstance(v, tuple):
        parts = [ws(r) + write_string(r, k) + ws(r) + ":" + ws(r) + write(r, val) + ws(r) for k, val in v[1]]
        return "{" + ",".join(parts) + "}" if parts else "{" + ws(r) + "}"
    if isinstance(v, list):
        parts = [ws(r) + write(r, x) + ws(r) for x in v]
        return "[" + ",".join(parts) + "]" if parts else "[" + ws(r) + "]"
    if isinstance(v, str):
        return write_string(r, v)
    if isinstance(v, bool) or v is None:
        return json.dumps(v)
    if isinstance(v, float):
        return write_float(r, v)
    return str(v)


def random_cases():
    r = random.Random(20260101)
    cases = []
    for i in range(60):
        doc = ("obj", [(rand_string(r), rand_value(r, 1)) for _ in range(r.randint(1, 8))])
        cases.append((f"random_{i:02d}", ws(r) + write(r, doc) + ws(r)))
    floats = [rand_float(r) for _ in range(400)]
    cases.append(("random_floats_repr", json.dumps(floats)))
    cases.append(("random_floats_spellings", "[" + ",".join(write_float(r, f) for f in floats) + "]"))
    return cases


def fixture_cases():
    with open(os.path.join(ROOT, "testdata", "webhooks", "full_v3.json"), "rb") as f:
        raw = f.read()
    obj = json.loads(raw)
    r = random.Random(4242)

    def shuffled(o):
        if isinstance(o, dict):
            items = list(o.items())
            r.shuffle(items)
            return {k: shuffled(v) for k, v in items}
        if isinstance(o, list):
            return [shuffled(v) for v in o]
        return o

    return [
        ("full_v3_raw", raw.decode("ascii")),
        ("full_v3_indent2_unicode", json.dumps(obj, indent=2, ensure_ascii=False)),
        ("full_v3_indent4_ascii", json.dumps(obj, indent=4, ensure_ascii=True)),
        ("full_v3_shuffled_compact_unicode", json.dumps(shuffled(obj), separators=(",", ":"), ensure_ascii=False)),
        ("full_v3_shuffled_spaced", json.dumps(shuffled(obj), ensure_ascii=False)),
    ]


def main():
    if sys.version_info < (3, 11):
        sys.exit("needs Python 3.11+ (integer string conversion limit)")
    vectors = []
    for name, body in CASES + random_cases() + fixture_cases():
        raw = body.encode("utf-8")
        case = {"name": name, "body": body, "secret": SECRET, "signature_raw": sign(SECRET, raw)}
        try:
            canonical = canonicalize(raw)
        except Exception as exc:  # noqa: BLE001 - classified or re-raised by reason()
            case["error"] = reason(exc)
        else:
            case["canonical"] = canonical.decode("utf-8")
            case["signature_v2"] = sign(SECRET, canonical)
        vectors.append(case)
    names = [v["name"] for v in vectors]
    assert len(names) == len(set(names)), "duplicate case names"
    out = os.path.join(HERE, "vectors.json")
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        json.dump(vectors, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{out}: {len(vectors)} cases, {sum('error' in v for v in vectors)} refusals")


if __name__ == "__main__":
    main()
