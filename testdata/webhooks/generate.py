#!/usr/bin/env python3
"""Regenerate the Didit webhook body fixtures in this directory.

Bodies are serialised the way Didit serialises the raw request body it signs with
X-Signature: json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).
Timestamps are fixed integers; tests re-sign with fresh X-Timestamp headers as needed.
Values are invented but use the field names of shared/didit-api.md sections 2-3.

Usage: python3 testdata/webhooks/generate.py   (Python 3 standard library only)
"""

import copy
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))

CREATED_AT = 1767225600
TIMESTAMP = 1767225607
MEDIA = "https://service-didit-verification-production.s3.eu-central-1.amazonaws.com"


def media(session_id, name, ext="jpg"):
    """A presigned-looking, short-lived media URL as Didit returns them."""
    return (
        f"{MEDIA}/{session_id}/{name}.{ext}"
        "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20260101%2Feu-central-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20260101T000007Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=3f5c0e1d9b7a6f4e2c8d0b1a9f7e5d3c1b0a8f6e4d2c0b9a7f5e3d1c0b8a6f4e"
    )


def warning(feature, node_id, risk, log_type, short, long, additional_data=None):
    return {
        "additional_data": additional_data,
        "feature": feature,
        "log_type": log_type,
        "long_description": long,
        "node_id": node_id,
        "risk": risk,
        "short_description": short,
    }


def full_v3():
    """Approved, but with enough soft signals that a risk scorer should look twice."""
    sid = "2c1f7d7e-1111-4c5e-9a3b-000000004242"
    wf = "9a8b7c6d-0000-4000-8000-0000000000aa"
    app = "6f1c2a9e-0000-4000-8000-000000000001"
    full_name = "Ana García López"
    address = "Calle de Alcalá 42, 3º Izq., 28014 Madrid, España"
    metadata = {"account_id": "acc_4242", "channel": "mobile-app", "plan": "premium", "referrer": "campaña-otoño"}
    parsed_address = {
        "address_type": "Calle",
        "city": "Madrid",
        "country": "ES",
        "formatted_address": "Calle de Alcalá, 42, 3º Izq., 28014 Madrid, España",
        "id": "7c1b4d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d",
        "is_verified": True,
        "label": "Spain ID Card Address",
        "postal_code": "28014",
        "raw_results": {"geometry": {"location": {"lat": 40.4189, "lng": -3.6969}, "location_type": "ROOFTOP"}},
        "region": "Comunidad de Madrid",
        "street_1": "Calle de Alcalá 42",
        "street_2": "3º Izq.",
    }
    id_ver = {
        "address": address,
        "age": 35,
        "back_image": media(sid, "id_back"),
        "back_video": media(sid, "id_back_video", "mp4"),
        "date_of_birth": "1990-04-12",
        "date_of_issue": "2021-04-13",
        "document_number": "X1234567K",
        "document_subtype": "DNI_3_0",
        "document_type": "Identity Card",
        "expiration_date": "2031-04-12",
        "extra_fields": {"dl_categories": [], "first_surname": "García", "second_surname": "López"},
        "extra_files": [],
        "first_name": "Ana",
        "formatted_address": "Calle de Alcalá, 42, 3º Izq., 28014 Madrid, España",
        "front_image": media(sid, "id_front"),
        "front_image_camera_front": None,
        "front_image_camera_front_face_match_score": None,
        "front_video": media(sid, "id_front_video", "mp4"),
        "full_back_image": media(sid, "id_full_back"),
        "full_front_image": media(sid, "id_full_front"),
        "full_name": full_name,
        "gender": "F",
        "issuing_state": "ESP",
        "issuing_state_name": "Spain",
        "last_name": "García López",
        "marital_status": "UNKNOWN",
        "matches": [
            {
                "first_name": "Ana",
                "is_blocklisted": False,
                "last_name": "García López",
                "session_id": "0b9e8d7c-6b5a-4f3e-9d2c-1b0a9f8e7d6c",
                "session_number": 871,
                "similarity_percentage": 88.5,
                "status": "Approved",
                "vendor_data": "user-3107",
                "verification_date": "2025-11-02T10:21:44.118Z",
            }
        ],
        "mrz": {
            "line_1": "IDESPX1234567K<<<<<<<<<<<<<<<<",
            "line_2": "9004128F3104121ESP<<<<<<<<<<<6",
            "line_3": "GARCIA<LOPEZ<<ANA<<<<<<<<<<<<<",
            "optional_data": "",
        },
        "nationality": "ESP",
        "node_id": "feature_ocr",
        "parsed_address": parsed_address,
        "personal_number": "99999999R",
        "place_of_birth": "Sevilla",
        "portrait_image": media(sid, "id_portrait"),
        "quality_scores": {"back_image_quality": 0.87, "front_image_quality": 0.91},
        "status": "In Review",  # the warning below sent it to review; a reviewer approved the session
        "verification_method": "document",
        "warnings": [
            warning(
                "ID_VERIFICATION",
                "feature_ocr",
                "POSSIBLE_DUPLICATED_USER",
                "warning",
                "Possible duplicated user",
                "The document data matches another approved session of a different user.",
                {"duplicated_session_id": "0b9e8d7c-6b5a-4f3e-9d2c-1b0a9f8e7d6c", "similarity": 88.5},
            )
        ],
    }
    nfc = {
        "authenticity": {"dg_integrity": True, "sod_integrity": True},
        "certificate_summary": {
            "issuer": "C=ES, O=DIRECCION GENERAL DE LA POLICIA, CN=CSCA SPAIN",
            "not_valid_after": "2031-07-14T00:00:00Z",
            "not_valid_before": "2021-04-14T00:00:00Z",
            "serial_number": "6A1F0C3D9B2E7F48",
            "subject": "C=ES, O=DIRECCION GENERAL DE LA POLICIA, CN=DS-DNI 3.0 0007",
        },
        "chip_data": {
            "address": address,
            "birth_date": "1990-04-12",
            "document_number": "X1234567K",
            "document_type": "ID",
            "expiration_date": "2031-04-12",
            "first_name": "ANA",
            "gender": "F",
            "issuing_country": "ESP",
            "last_name": "GARCÍA LÓPEZ",
            "nationality": "ESP",
            "place_of_birth": "SEVILLA",
        },
        "is_nfc_skipped": False,
        "node_id": "feature_nfc",
        "portrait_image": media(sid, "nfc_portrait"),
        "signature_image": media(sid, "nfc_signature", "png"),
        "skip_reason": None,
        "status": "Approved",
        "warnings": [],
    }
    liveness = {
        "age_estimation": 34.7,
        "face_luminance": 118.25,
        "face_quality": 82.4,
        "matches": [],
        "method": "PASSIVE",
        "node_id": "feature_liveness",
        "reference_image": media(sid, "liveness_reference"),
        "score": 95.0,
        "status": "Approved",
        "video_url": None,
        "warnings": [],
    }
    face_match = {
        "node_id": "feature_face_match",
        "score": 91.37,
        "source_image": media(sid, "face_source"),
        "source_image_session_id": None,
        "status": "Approved",
        "target_image": media(sid, "face_target"),
        "warnings": [],
    }
    poa = {
        "document_file": media(sid, "poa_document", "pdf"),
        "document_language": "es",
        "document_type": "UTILITY_BILL",
        "expected_details_address": None,
        "issue_date": "2025-12-03",
        "issuer": "Iberdrola Clientes, S.A.U.",
        "issuing_state": "ESP",
        "name_on_document": "ANA GARCIA LOPEZ",
        "node_id": "feature_poa",
        "poa_address": address,
        "poa_formatted_address": "Calle de Alcalá, 42, 3º Izq., 28014 Madrid, España",
        "poa_parsed_address": parsed_address,
        "status": "Approved",
        "warnings": [
            warning(
                "PROOF_OF_ADDRESS",
                "feature_poa",
                "POOR_DOCUMENT_QUALITY",
                "information",
                "Poor document quality",
                "The proof of address image is blurry in places; data could still be extracted.",
            )
        ],
    }
    phone = {
        "carrier": {"name": "Telefónica Móviles España", "type": "mobile"},
        "country_code": "ES",
        "country_name": "Spain",
        "full_number": "+34612345678",
        "is_disposable": False,
        "is_virtual": False,
        "lifecycle": [
            {"fee": 0.03, "timestamp": "2026-01-01T00:02:11.204Z", "type": "PHONE_VERIFICATION_MESSAGE_SENT"},
            {"fee": 0, "timestamp": "2026-01-01T00:02:39.871Z", "type": "VALID_CODE_ENTERED"},
        ],
        "matches": [],
        "node_id": "feature_phone",
        "phone_number": "612345678",
        "phone_number_prefix": "+34",
        "status": "Approved",
        "verification_attempts": 1,
        "verification_method": "sms",
        "verified_at": "2026-01-01T00:02:39.871Z",
        "warnings": [],
    }
    email = {
        "breaches": [
            {
                "breach_date": "2019-05-17",
                "breach_emails_count": 7745000,
                "data_classes": ["Email addresses", "Passwords", "Usernames"],
                "domain": "example-forum.com",
                "name": "ExampleForum",
            }
        ],
        "email": "ana.garcia.lopez@example.es",
        "is_breached": True,
        "is_disposable": False,
        "is_undeliverable": False,
        "lifecycle": [
            {"fee": 0.01, "timestamp": "2026-01-01T00:03:02.500Z", "type": "EMAIL_VERIFICATION_MESSAGE_SENT"},
            {"fee": 0, "timestamp": "2026-01-01T00:03:40.019Z", "type": "VALID_CODE_ENTERED"},
        ],
        "matches": [],
        "node_id": "feature_email",
        "status": "Approved",
        "verification_attempts": 1,
        "verified_at": "2026-01-01T00:03:40.019Z",
        "warnings": [
            warning(
                "EMAIL",
                "feature_email",
                "BREACHED_EMAIL_DETECTED",
                "information",
                "Breached email detected",
                "The email address appears in 1 known data breach.",
                {"breach_count": 1},
            )
        ],
    }
    aml = {
        "entity_type": "person",
        "hits": [
            {
                "adverse_media_matches": 0,
                "caption": "Ana García Lopes",
                "datasets": ["PEP"],
                "first_seen": "2021-03-09T00:00:00Z",
                "id": "NK-8rGq2bLk3vTzW",
                "last_seen": "2025-12-30T00:00:00Z",
                "linked_entities": [],
                "match_score": 62.5,
                "pep_matches": 1,
                "properties": {
                    "birthDate": ["1961"],
                    "country": ["pt"],
                    "name": ["Ana García Lopes"],
                    "position": ["Vereadora, Câmara Municipal de Évora"],
                },
                "review_status": "Unreviewed",
                "risk_score": 12.0,
                "risk_view": {"categories": ["PEP"], "countries": ["PT"], "crimes": []},
                "sanction_matches": 0,
                "score_breakdown": {"country_score": 0.0, "dob_score": 0.0, "name_score": 85.33},
                "warning_matches": 0,
            }
        ],
        "is_ongoing_monitoring_enabled": True,
        "next_ongoing_monitoring_bill_date": "2026-02-01",
        "node_id": "feature_aml",
        "ongoing_monitoring_last_check": "2026-01-01T00:04:10Z",
        "score": 62.5,
        "screened_data": {
            "date_of_birth": "1990-04-12",
            "document_number": "X1234567K",
            "full_name": full_name,
            "nationality": "ESP",
        },
        "status": "Approved",
        "total_hits": 1,
        "warnings": [],
    }
    ip = {
        "browser_family": "Mobile Safari",
        "device_brand": "Apple",
        "device_fingerprint": "fp_8c1e6a0f3b2d4e57",
        "device_model": "iPhone 15",
        "id_document": {"distance_from_ip_km": 3.2, "location": {"latitude": 40.4189, "longitude": -3.6969}},
        "ip": {
            "distance_from_id_document": 3.2,
            "distance_from_poa_document": 3.2,
            "location": {"latitude": 40.4531, "longitude": -3.6883},
        },
        "ip_address": "83.50.226.71",
        "ip_city": "Madrid",
        "ip_country": "Spain",
        "ip_country_code": "ES",
        "ip_state": "Madrid",
        "is_data_center": False,
        "is_vpn_or_tor": True,
        "isp": "Telefónica de España",
        "latitude": 40.4531,
        "longitude": -3.6883,
        "matches": [],
        "node_id": "feature_ip",
        "organization": "iCloud Private Relay",
        "os_family": "iOS",
        "platform": "mobile",
        "poa_document": {"distance_from_ip_km": 3.2, "location": {"latitude": 40.4189, "longitude": -3.6969}},
        "status": "Approved",
        "time_zone": "Europe/Madrid",
        "time_zone_offset": "+0100",
        "warnings": [
            warning(
                "LOCATION",
                "feature_ip",
                "PRIVATE_NETWORK_DETECTED",
                "information",
                "Private network detected",
                "The user connected through a VPN, proxy or private relay.",
                {"provider": "iCloud Private Relay"},
            )
        ],
    }
    # A second observation from the same node: the user switched networks on a trip.
    ip2 = copy.deepcopy(ip)
    ip2.update(
        {
            "device_fingerprint": "fp_8c1e6a0f3b2d4e57",
            "ip_address": "126.76.34.5",
            "ip_city": "東京",
            "ip_country": "Japan",
            "ip_country_code": "JP",
            "ip_state": "東京都",
            "is_vpn_or_tor": False,
            "isp": "SoftBank Corp.",
            "latitude": 35.6895,
            "longitude": 139.69171,
            "organization": "SoftBank Corp.",
            "time_zone": "Asia/Tokyo",
            "time_zone_offset": "+0900",
            "warnings": [],
        }
    )
    ip2["ip"] = {
        "distance_from_id_document": 10763.4,
        "distance_from_poa_document": 10763.4,
        "location": {"latitude": 35.6895, "longitude": 139.69171},
    }
    db = {
        "errors": [],
        "issuing_state": "ESP",
        "match_type": "full_match",
        "node_id": "feature_db",
        "screened_data": {"date_of_birth": "1990-04-12", "first_name": "Ana", "last_name": "García López",
                          "personal_number": "X1234567K"},
        "status": "Approved",
        "validation_type": "one_by_one",
        "validations": [
            {"field": "full_name", "result": "match", "score": 1.0},
            {"field": "date_of_birth", "result": "match", "score": 1.0},
            {"field": "document_number", "result": "match", "score": 1.0},
        ],
        "warnings": [],
    }
    decision = {
        "aml_screenings": [aml],
        "callback": "https://app.example.com/kyc/done?lang=es",
        "contact_details": {
            "email": "ana.garcia.lopez@example.es",
            "email_lang": "es",
            "phone": "+34612345678",
            "send_notification_emails": False,
        },
        "created_at": CREATED_AT,
        "database_validations": [db],
        "email_verifications": [email],
        "environment": "live",
        "expected_details": {"date_of_birth": "1990-04-12", "first_name": "Ana", "last_name": "García López",
                             "nationality": "ESP"},
        "expires_at": CREATED_AT + 7 * 86400,
        "face_matches": [face_match],
        "features": ["ID_VERIFICATION", "NFC", "LIVENESS", "FACE_MATCH", "POA", "PHONE", "EMAIL",
                     "DATABASE_VALIDATION", "AML", "IP_ANALYSIS"],
        "id_verifications": [id_ver],
        "ip_analyses": [ip, ip2],
        "liveness_checks": [liveness],
        "metadata": metadata,
        "nfc_verifications": [nfc],
        "phone_verifications": [phone],
        "poa_verifications": [poa],
        "reviews": [
            {
                "comment": "Duplicate is the same person re-onboarding after closing account acc_3107.",
                "created_at": CREATED_AT + 2 * 3600,
                "new_status": "Approved",
                "user": "compliance@example.com",
            }
        ],
        "session_id": sid,
        "session_kind": "user",
        "session_number": 4242,
        "session_url": "https://verify.didit.me/session/8mQ2xVn7cR4tYb1Zk9Ws",
        "status": "Approved",
        "vendor_data": "user-4242",
        "workflow_id": wf,
    }
    return {
        "application_id": app,
        "created_at": CREATED_AT,
        "decision": decision,
        "event_id": "0d8f0c5e-2222-4b7d-8e1f-000000004242",
        "metadata": metadata,
        "session_id": sid,
        "status": "Approved",
        "timestamp": TIMESTAMP,
        "vendor_data": "user-4242",
        "webhook_type": "status.updated",
        "workflow_id": wf,
        "workflow_version": 3,
    }


def approved_clean_v3():
    sid = "5d2e8f1a-3333-4a6b-8c7d-000000001001"
    wf = "9a8b7c6d-0000-4000-8000-0000000000aa"
    decision = {
        "aml_screenings": [{
            "entity_type": "person", "hits": [], "is_ongoing_monitoring_enabled": False, "node_id": "feature_aml",
            "score": 0, "screened_data": {"date_of_birth": "1985-09-30", "document_number": "AB1234567",
                                          "full_name": "John Smith", "nationality": "GBR"},
            "status": "Approved", "total_hits": 0, "warnings": []}],
        "environment": "live",
        "face_matches": [{"node_id": "feature_face_match", "score": 97.8, "status": "Approved", "warnings": []}],
        "features": ["ID_VERIFICATION", "LIVENESS", "FACE_MATCH", "AML", "IP_ANALYSIS"],
        "id_verifications": [{
            "age": 40, "date_of_birth": "1985-09-30", "document_number": "AB1234567", "document_type": "Passport",
            "expiration_date": "2032-02-01", "first_name": "John", "full_name": "John Smith", "gender": "M",
            "issuing_state": "GBR", "issuing_state_name": "United Kingdom", "last_name": "Smith",
            "nationality": "GBR", "node_id": "feature_ocr", "status": "Approved", "warnings": []}],
        "ip_analyses": [{
            "device_fingerprint": "fp_1001", "ip_address": "81.2.69.160", "ip_country": "United Kingdom",
            "ip_country_code": "GB", "is_data_center": False, "is_vpn_or_tor": False, "node_id": "feature_ip",
            "platform": "desktop", "status": "Approved", "warnings": []}],
        "liveness_checks": [{
            "age_estimation": 39.6, "method": "PASSIVE", "node_id": "feature_liveness", "score": 98.2,
            "status": "Approved", "video_url": None, "warnings": []}],
        "session_id": sid, "session_kind": "user", "session_number": 1001, "status": "Approved",
        "vendor_data": "user-1001", "workflow_id": wf,
    }
    return {
        "created_at": 1767226000, "decision": decision, "event_id": "7a1b2c3d-4444-4e5f-8a9b-000000001001",
        "session_id": sid, "status": "Approved", "timestamp": 1767226004, "vendor_data": "user-1001",
        "webhook_type": "status.updated", "workflow_id": wf,
    }


def declined_v3():
    """The shape of shared/didit-api.md section 4.2."""
    sid = "7e3a9c4b-5555-4d6e-9f0a-000000000099"
    wf = "9a8b7c6d-0000-4000-8000-0000000000aa"

    def w(feature, node, risk, log_type):
        return warning(feature, node, risk, log_type, risk.replace("_", " ").capitalize(),
                       "See the Didit console for details.")

    decision = {
        "face_matches": [{"node_id": "feature_face_match", "score": 41.0, "status": "Declined",
                          "warnings": [w("FACEMATCH", "feature_face_match", "LOW_FACE_MATCH_SIMILARITY", "error")]}],
        "id_verifications": [{
            "document_type": "Passport", "expiration_date": "2024-01-31", "node_id": "feature_ocr",
            "status": "Declined",
            "warnings": [w("ID_VERIFICATION", "feature_ocr", "DOCUMENT_EXPIRED", "error"),
                         w("ID_VERIFICATION", "feature_ocr", "POSSIBLE_DUPLICATED_USER", "warning")]}],
        "ip_analyses": [{
            "ip_country_code": "NL", "is_data_center": True, "is_vpn_or_tor": True, "node_id": "feature_ip",
            "status": "In Review",
            "warnings": [w("LOCATION", "feature_ip", "PRIVATE_NETWORK_DETECTED", "warning"),
                         w("LOCATION", "feature_ip", "COUNTRY_FROM_DOCUMENT_DOES_NOT_MATCH_COUNTRY_FROM_IP",
                           "warning")]}],
        "liveness_checks": [{
            "matches": [{"session_id": "1f2e3d4c-6666-4b5a-9c8d-000000000017", "similarity_percentage": 97.5,
                         "vendor_data": "user-17"}],
            "method": "PASSIVE", "node_id": "feature_liveness", "score": 22.5, "status": "Declined",
            "warnings": [w("LIVENESS", "feature_liveness", "LOW_LIVENESS_SCORE", "error"),
                         w("LIVENESS", "feature_liveness", "POSSIBLE_DUPLICATED_FACE", "warning")]}],
        "session_id": sid, "status": "Declined", "vendor_data": "user-99",
    }
    return {
        "created_at": 1767229200, "decision": decision, "event_id": "3c4d5e6f-7777-4a8b-9c0d-000000000099",
        "session_id": sid, "status": "Declined", "timestamp": 1767229203, "vendor_data": "user-99",
        "webhook_type": "status.updated", "workflow_id": wf,
    }


def in_progress():
    return {
        "created_at": 1767224000, "event_id": "9e8d7c6b-8888-4a5b-8c7d-000000000555",
        "session_id": "4b3a2918-9999-4c7d-8e6f-000000000555", "status": "In Progress",
        "timestamp": 1767224012, "vendor_data": "user-555", "webhook_type": "status.updated",
        "workflow_id": "9a8b7c6d-0000-4000-8000-0000000000aa",
    }


def v2_singular():
    """webhook_version v2: singular feature keys, first instance only."""
    sid = "8c7b6a59-aaaa-4e3d-9c2b-000000000777"
    decision = {
        "aml": {"hits": [], "score": 0, "status": "Approved", "total_hits": 0, "warnings": []},
        "face_match": {"score": 93.5, "status": "Approved", "warnings": []},
        "features": ["ID_VERIFICATION", "LIVENESS", "FACE_MATCH", "AML", "IP_ANALYSIS"],
        "id_verification": {
            "date_of_birth": "1992-11-05", "document_number": "P7654321", "document_type": "Passport",
            "first_name": "Marie", "full_name": "Marie Dubois", "issuing_state": "FRA", "last_name": "Dubois",
            "nationality": "FRA", "status": "Approved", "warnings": []},
        "ip_analysis": {"ip_country_code": "FR", "is_data_center": False, "is_vpn_or_tor": False,
                        "status": "Approved", "warnings": []},
        "liveness": {"method": "PASSIVE", "score": 90.0, "status": "Approved", "warnings": []},
        "session_id": sid, "status": "Approved", "vendor_data": "user-777",
    }
    return {
        "created_at": 1767227000, "decision": decision, "session_id": sid, "status": "Approved",
        "timestamp": 1767227009, "vendor_data": "user-777", "webhook_type": "status.updated",
    }


def write(name, obj):
    body = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    with open(os.path.join(HERE, name), "w", encoding="ascii", newline="") as f:
        f.write(body)  # no trailing newline: this is the exact raw request body
    print(f"{name}: {len(body)} bytes")


if __name__ == "__main__":
    write("full_v3.json", full_v3())
    write("approved_clean_v3.json", approved_clean_v3())
    write("declined_v3.json", declined_v3())
    write("in_progress.json", in_progress())
    write("v2_singular.json", v2_singular())
