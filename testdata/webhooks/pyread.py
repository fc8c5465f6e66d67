#!/usr/bin/env python3
"""Reads webhook bodies the way Didit's X-Signature-V2 does (json.loads of the bytes) and prints
the values the scorer reads, for the receiver's differential test (internal/receiver).

stdin: a JSON array of base64-encoded bodies. stdout: a JSON array with, per body, either
{"error": "..."} when json.loads refuses it, or the values below. The field mapping mirrors
internal/didit.DecodeWebhook: top-level fields fall back to the decision's, and a v2 singular
feature object is used only when the v3 array is empty."""
import base64
import json
import sys


def obj(v):
    return v if isinstance(v, dict) else {}


def lst(v):
    return v if isinstance(v, list) else []


def features(decision, plural, singular):
    items = lst(decision.get(plural))
    if not items and isinstance(decision.get(singular), dict):
        items = [decision[singular]]
    return [obj(i) for i in items]


def finite(v):
    """Go's JSON reader has no Infinity or NaN: name them."""
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return {"nonfinite": repr(v)}
    return v


def read(body):
    try:
        w = json.loads(body)
    except (ValueError, RecursionError) as e:
        return {"error": type(e).__name__}
    if not isinstance(w, dict):
        return {"error": "not an object"}
    d = obj(w.get("decision"))
    ids = features(d, "id_verifications", "id_verification")
    live = features(d, "liveness_checks", "liveness")
    warnings = [obj(x).get("risk") for f in ids + live for x in lst(f.get("warnings"))]
    return {
        "session_id": w.get("session_id") or d.get("session_id"),
        "status": w.get("status") or d.get("status"),
        "webhook_type": w.get("webhook_type"),
        "vendor_data": w.get("vendor_data") or d.get("vendor_data"),
        "event_id": w.get("event_id"),
        "timestamp": finite(w.get("timestamp")),
        "id_statuses": [f.get("status") for f in ids],
        "warning_risks": warnings,
        "liveness_score": finite(live[0].get("score")) if live else None,
    }


def main():
    bodies = [base64.b64decode(b) for b in json.load(sys.stdin)]
    out = []
    for b in bodies:
        try:
            out.append(read(b))
        except Exception as e:  # report, never crash the test run
            out.append({"error": "crash: " + type(e).__name__})
    # ensure_ascii keeps lone surrogates printable; Infinity/NaN stay Python's literals.
    json.dump(out, sys.stdout, ensure_ascii=True)


main()
