#!/usr/bin/env python3
"""Regenerate the Didit webhook payloads in testdata/scoring/payloads/.

Each payload is a v3 webhook body (v2 where named) built from one clean session and changed
only where the case needs it, serialised as Didit sends it (sorted keys, compact, ASCII).
Field names and warning codes follow shared/didit-api.md sections 2-3; values are invented.
The golden cases in testdata/scoring/cases/ refer to these files by name.

Usage: python3 testdata/scoring/generate.py   (Python 3 standard library only)
"""

import copy
import json
import os

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "payloads")
TS = 1767225607  # 2026-01-01T00:00:07Z

FEATURE = {
    "id_verifications": ("ID_VERIFICATION", "feature_ocr"),
    "nfc_verifications": ("NFC", "feature_nfc"),
    "liveness_checks": ("LIVENESS", "feature_liveness"),
    "face_matches": ("FACEMATCH", "feature_face_match"),
    "poa_verifications": ("PROOF_OF_ADDRESS", "feature_poa"),
    "phone_verifications": ("PHONE", "feature_phone"),
    "email_verifications": ("EMAIL", "feature_email"),
    "aml_screenings": ("AML", "feature_aml"),
    "ip_analyses": ("LOCATION", "feature_ip"),
    "database_validations": ("DATABASE_VALIDATION", "feature_db"),
}


def warn(array, risk, log_type="warning"):
    feature, node = FEATURE[array]
    return {
        "additional_data": None,
        "feature": feature,
        "log_type": log_type,
        "long_description": "See the Didit console for details.",
        "node_id": node,
        "risk": risk,
        "short_description": risk.replace("_", " ").capitalize(),
    }


def clean(n, vendor=None):
    """An approved session with every feature and nothing to worry about."""
    sid = "5e0c0000-0000-4000-8000-%012d" % n
    vendor = vendor or "user-%d" % n
    decision = {
        "aml_screenings": [{
            "entity_type": "person", "hits": [], "is_ongoing_monitoring_enabled": False,
            "node_id": "feature_aml", "score": 0, "status": "Approved", "total_hits": 0, "warnings": [],
            "screened_data": {"date_of_birth": "1988-02-14", "document_number": "Y7654321Z",
                              "full_name": "Lena Vogel", "nationality": "DEU"},
        }],
        "database_validations": [{
            "errors": [], "issuing_state": "DEU", "match_type": "full_match", "node_id": "feature_db",
            "status": "Approved", "validation_type": "one_by_one", "validations": [], "warnings": [],
        }],
        "email_verifications": [{
            "breaches": [], "email": "lena.vogel@example.de", "is_breached": False, "is_disposable": False,
            "is_undeliverable": False, "matches": [], "node_id": "feature_email", "status": "Approved",
            "verification_attempts": 1, "warnings": [],
        }],
        "environment": "live",
        "face_matches": [{"node_id": "feature_face_match", "score": 94.2, "status": "Approved", "warnings": [],
                          "source_image": "https://example.invalid/s.jpg", "target_image": "https://example.invalid/t.jpg"}],
        "features": ["ID_VERIFICATION", "NFC", "LIVENESS", "FACE_MATCH", "POA", "PHONE", "EMAIL",
                     "DATABASE_VALIDATION", "AML", "IP_ANALYSIS"],
        "id_verifications": [{
            "age": 37, "date_of_birth": "1988-02-14", "document_number": "Y7654321Z",
            "document_type": "Identity Card", "expiration_date": "2033-05-01", "first_name": "Lena",
            "full_name": "Lena Vogel", "gender": "F", "issuing_state": "DEU", "issuing_state_name": "Germany",
            "last_name": "Vogel", "matches": [], "nationality": "DEU", "node_id": "feature_ocr",
            "status": "Approved", "warnings": [], "portrait_image": "https://example.invalid/p.jpg",
        }],
        "ip_analyses": [{
            "device_fingerprint": "fp_%d" % n, "ip_address": "91.64.10.%d" % (n % 250), "ip_country": "Germany",
            "ip_country_code": "DE", "is_data_center": False, "is_vpn_or_tor": False, "matches": [],
            "node_id": "feature_ip", "platform": "mobile", "status": "Approved", "warnings": [],
        }],
        "liveness_checks": [{
            "age_estimation": 36.1, "face_quality": 88.0, "matches": [], "method": "ACTIVE_3D",
            "node_id": "feature_liveness", "score": 96.5, "status": "Approved", "warnings": [],
            "reference_image": "https://example.invalid/r.jpg", "video_url": None,
        }],
        "nfc_verifications": [{
            "authenticity": {"dg_integrity": True, "sod_integrity": True}, "is_nfc_skipped": False,
            "node_id": "feature_nfc", "skip_reason": None, "status": "Approved", "warnings": [],
            "chip_data": {"document_number": "Y7654321Z", "first_name": "Lena", "last_name": "Vogel"},
        }],
        "phone_verifications": [{
            "carrier": {"name": "Telekom", "type": "mobile"}, "country_code": "DE", "full_number": "+4915112345678",
            "is_disposable": False, "is_virtual": False, "matches": [], "node_id": "feature_phone",
            "status": "Approved", "verification_attempts": 1, "verification_method": "sms", "warnings": [],
        }],
        "poa_verifications": [{
            "document_type": "UTILITY_BILL", "issuing_state": "DEU", "node_id": "feature_poa",
            "poa_address": "Hauptstr. 1, 10115 Berlin", "status": "Approved", "warnings": [],
        }],
        "session_id": sid,
        "session_kind": "user",
        "status": "Approved",
        "vendor_data": vendor,
    }
    return {
        "created_at": TS - 600, "decision": decision, "event_id": "e0e00000-0000-4000-8000-%012d" % n,
        "metadata": {"account_id": "acc_%d" % n}, "session_id": sid, "status": "Approved", "timestamp": TS,
        "vendor_data": vendor, "webhook_type": "status.updated",
        "workflow_id": "9a8b7c6d-0000-4000-8000-0000000000aa", "workflow_version": 3,
    }


def status(body, s):
    body["status"] = s
    body["decision"]["status"] = s
    return body


def item(body, array):
    return body["decision"][array][0]


def add(body, array, risk, log_type="warning"):
    item(body, array)["warnings"].append(warn(array, risk, log_type))


def only(body, *arrays):
    """Keep only some feature arrays: what a step-up session returns."""
    d = body["decision"]
    for k in FEATURE:
        if k not in arrays:
            d.pop(k, None)
    d["features"] = [FEATURE[a][0] for a in arrays]
    return body


def payloads():
    out = {}

    out["clean"] = clean(1)

    b = clean(2)
    add(b, "id_verifications", "POSSIBLE_DUPLICATED_USER")
    item(b, "id_verifications")["matches"] = [{"session_id": "5e0c0000-0000-4000-8000-000000000777",
                                               "similarity_percentage": 91.0, "vendor_data": "user-777"}]
    item(b, "ip_analyses").update(is_vpn_or_tor=True)
    add(b, "ip_analyses", "PRIVATE_NETWORK_DETECTED", "information")
    item(b, "liveness_checks").update(score=72.4, method="PASSIVE")
    out["moderate"] = b

    b = status(clean(3), "In Review")
    item(b, "aml_screenings").update(status="In Review", score=91.5, total_hits=2, hits=[
        {"match_score": 91.5, "risk_score": 88.0, "review_status": "Unreviewed", "pep_matches": 0,
         "sanction_matches": 2, "datasets": ["SANCTIONS"], "caption": "L. Vogel"},
        {"match_score": 55.0, "risk_score": 10.0, "review_status": "False Positive", "pep_matches": 1,
         "sanction_matches": 0, "datasets": ["PEP"], "caption": "Lena Vogl"},
    ])
    add(b, "aml_screenings", "POSSIBLE_MATCH_FOUND")
    out["aml_sanction"] = b

    b = status(clean(4), "Declined")
    item(b, "liveness_checks").update(status="Declined", score=12.0)
    add(b, "liveness_checks", "LIVENESS_FACE_ATTACK", "error")
    out["face_attack"] = b

    b = status(clean(5), "Declined")
    item(b, "id_verifications").update(status="Declined")
    add(b, "id_verifications", "ID_DOCUMENT_IN_BLOCKLIST", "error")
    out["document_blocklist"] = b

    b = clean(6)
    item(b, "phone_verifications").update(is_disposable=True, is_virtual=True,
                                          carrier={"name": "TextNow", "type": "voip"})
    add(b, "phone_verifications", "VOIP_NUMBER_DETECTED")
    item(b, "email_verifications").update(is_breached=True, is_disposable=True, breaches=[
        {"name": "ExampleForum", "domain": "example-forum.com", "breach_date": "2019-05-17"}])
    add(b, "email_verifications", "DISPOSABLE_EMAIL_DETECTED")
    out["phone_email_risk"] = b

    b = status(clean(7), "In Review")
    item(b, "poa_verifications").update(status="In Review")
    add(b, "poa_verifications", "SUSPECTED_DOCUMENT_MANIPULATION")
    add(b, "poa_verifications", "NAME_MISMATCH_ID_VERIFICATION")
    out["poa_manipulation"] = b

    b = status(clean(8), "Declined")
    item(b, "nfc_verifications").update(status="Declined")
    add(b, "nfc_verifications", "NFC_AND_OCR_DATA_NOT_SAME", "error")
    out["nfc_ocr_mismatch"] = b

    b = clean(9)
    item(b, "id_verifications").update(age=52)
    item(b, "liveness_checks").update(age_estimation=23.4)
    out["age_gap"] = b

    b = status(clean(10), "In Review")
    ip = item(b, "ip_analyses")
    ip.update(is_data_center=True, ip_country="Netherlands", ip_country_code="NL", status="In Review")
    add(b, "ip_analyses", "DEVICE_EMULATOR_DETECTED")
    add(b, "ip_analyses", "DUPLICATED_DEVICE_FINGERPRINT")
    add(b, "ip_analyses", "COUNTRY_FROM_DOCUMENT_DOES_NOT_MATCH_COUNTRY_FROM_IP")
    out["device_tampered"] = b

    b = clean(11)
    item(b, "database_validations").update(match_type="no_match", status="In Review")
    add(b, "database_validations", "DATABASE_VALIDATION_NO_MATCH")
    out["database_no_match"] = b

    b = status(clean(12), "Declined")
    item(b, "id_verifications").update(status="Declined", document_type="Residence Permit")
    add(b, "id_verifications", "DOCUMENT_NOT_SUPPORTED_FOR_APPLICATION", "error")
    out["declined_unsupported_document"] = b

    b = status(clean(13), "Abandoned")
    for k in ("nfc_verifications", "face_matches", "poa_verifications", "phone_verifications",
              "email_verifications", "aml_screenings", "database_validations"):
        b["decision"][k] = None
    b["decision"]["liveness_checks"][0].update(status="Not Finished", score=None, age_estimation=None,
                                               face_quality=None)
    out["abandoned"] = b

    b = clean(14)
    item(b, "liveness_checks").update(face_quality=31.0, method="PASSIVE")
    add(b, "liveness_checks", "LOW_FACE_LUMINANCE", "information")
    out["poor_capture"] = b

    b = status(clean(15), "Declined")
    item(b, "face_matches").update(status="Declined", score=38.0)
    add(b, "face_matches", "LOW_FACE_MATCH_SIMILARITY", "error")
    item(b, "liveness_checks").update(score=41.0)
    add(b, "liveness_checks", "LOW_LIVENESS_SCORE", "error")
    add(b, "liveness_checks", "POSSIBLE_DUPLICATED_FACE")
    item(b, "liveness_checks")["matches"] = [{"session_id": "5e0c0000-0000-4000-8000-000000000017",
                                              "similarity_percentage": 97.5, "vendor_data": "user-17"}]
    out["impostor"] = b

    b = clean(16)
    item(b, "id_verifications").update(expiration_date="2025-12-01")
    add(b, "id_verifications", "MRZ_VALIDATION_FAILED")
    out["expired_document"] = b

    # Step-up sessions of user-2 (the "moderate" user): only the step-up's features.
    b = only(clean(20, vendor="user-2"), "nfc_verifications")
    b["metadata"] = {"risk_step_up": {"kind": "nfc", "profile_id": "user-2"}}
    out["stepup_nfc_approved"] = b

    b = status(only(clean(21, vendor="user-2"), "nfc_verifications"), "Declined")
    item(b, "nfc_verifications").update(status="Declined", authenticity={"dg_integrity": False, "sod_integrity": True})
    add(b, "nfc_verifications", "NFC_CHIP_NOT_VERIFIED", "error")
    out["stepup_nfc_declined"] = b

    b = status(only(clean(22, vendor="user-2"), "liveness_checks", "face_matches"), "Declined")
    item(b, "face_matches").update(status="Declined", score=31.0)
    add(b, "face_matches", "LOW_FACE_MATCH_SIMILARITY", "error")
    out["stepup_biometric_declined"] = b

    b = only(clean(23, vendor="user-2"), "liveness_checks", "face_matches")
    out["stepup_biometric_approved"] = b

    b = status(only(clean(24, vendor="user-2"), "phone_verifications"), "Declined")
    item(b, "phone_verifications").update(status="Declined", verification_attempts=3)
    add(b, "phone_verifications", "VERIFICATION_CODE_ATTEMPTS_EXCEEDED", "error")
    out["stepup_phone_declined"] = b

    # v2: singular objects, no node ids; a risky phone.
    v3 = clean(30)
    d = v3["decision"]
    v2d = {"session_id": d["session_id"], "status": "Approved", "vendor_data": d["vendor_data"],
           "features": ["ID_VERIFICATION", "LIVENESS", "FACE_MATCH", "PHONE", "IP_ANALYSIS"]}
    for arr, key in (("id_verifications", "id_verification"), ("liveness_checks", "liveness"),
                     ("face_matches", "face_match"), ("phone_verifications", "phone"),
                     ("ip_analyses", "ip_analysis")):
        obj = copy.deepcopy(d[arr][0])
        obj.pop("node_id", None)
        v2d[key] = obj
    v2d["phone"].update(is_disposable=True)
    v2d["phone"]["warnings"] = [warn("phone_verifications", "DISPOSABLE_NUMBER_DETECTED")]
    v3["decision"] = v2d
    out["v2_disposable_phone"] = v3

    b = {k: v for k, v in clean(31).items() if k != "decision"}
    b["status"] = "Resubmitted"
    out["resubmitted"] = b

    # Matches carry source, is_allowlisted and is_blocklisted; list entries have vendor_data
    # null (shared/didit-api.md 9.8).
    b = clean(40)
    item(b, "liveness_checks")["matches"] = [{
        "is_allowlisted": True, "is_blocklisted": False, "session_id": None, "similarity_percentage": 96.1,
        "source": "list_entry", "vendor_data": None}]
    out["allowlisted_face_match"] = b

    b = clean(41)
    item(b, "liveness_checks")["matches"] = [{
        "is_allowlisted": False, "is_blocklisted": True, "session_id": None, "similarity_percentage": 93.0,
        "source": "list_entry", "vendor_data": None}]
    out["blocklisted_face_match"] = b

    # The console blocklist of IPs and devices (9.9).
    b = status(clean(42), "Declined")
    item(b, "ip_analyses").update(status="Declined")
    add(b, "ip_analyses", "IP_ADDRESS_IN_BLOCKLIST", "error")
    out["ip_blocklist"] = b

    b = status(clean(43), "Declined")
    item(b, "ip_analyses").update(status="Declined")
    add(b, "ip_analyses", "DEVICE_FINGERPRINT_IN_BLOCKLIST", "error")
    out["device_blocklist"] = b

    # ID always-decline codes (9.9).
    b = status(clean(44), "Declined")
    item(b, "id_verifications").update(status="Declined")
    add(b, "id_verifications", "PUBLIC_DOCUMENT_IMAGE_DETECTED", "error")
    out["public_document_image"] = b

    b = status(clean(45), "Declined")
    item(b, "id_verifications").update(status="Declined", expiration_date=None, document_type=None)
    add(b, "id_verifications", "COULD_NOT_DETECT_DOCUMENT_TYPE", "error")
    add(b, "id_verifications", "EXPIRATION_DATE_NOT_DETECTED", "error")
    add(b, "id_verifications", "INVALID_DATE", "error")
    out["unreadable_document"] = b

    # The newer arrays (9.9): only statuses and warnings are read.
    b = clean(46)
    b["decision"]["questionnaire_responses"] = [{
        "node_id": "feature_questionnaire", "status": "Declined", "questionnaire_id": "q-1",
        "sections": [{"items": [{"answer": "free text the user typed", "title": "Occupation"}]}],
        "warnings": []}]
    b["decision"]["features"].append("QUESTIONNAIRE")
    out["questionnaire_declined"] = b

    b = status(clean(47), "In Review")
    b["decision"]["document_ai_documents"] = [{
        "node_id": "feature_document_ai", "status": "In Review", "document_type": "BANK_STATEMENT",
        "extracted_data": {"account_holder": "Lena Vogel"}, "warnings": []}]
    b["decision"]["features"].append("DOCUMENT_AI")
    out["document_ai_in_review"] = b

    # Kyc Expired: the approval of an earlier session expired (9.7). Didit attaches no decision
    # to this status (2.1); GET /decision/ would return the expired approval.
    b = clean(48)
    b["status"] = "Kyc Expired"
    b["decision"]["status"] = "Kyc Expired"
    out["kyc_expired"] = b
    return out


def main():
    os.makedirs(HERE, exist_ok=True)
    for name, body in payloads().items():
        with open(os.path.join(HERE, name + ".json"), "w") as f:
            f.write(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True))
            f.write("\n")


if __name__ == "__main__":
    main()
