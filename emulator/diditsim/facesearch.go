package diditsim

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Face Search 1:N (shared/didit-api.md §9.11). The simulator's face index holds the faces of
// its sessions that went through a face-bearing feature (or were given one with SetFace), the
// faces blocklisted through POST /v3/blocklist/add/, and the faces a test seeds with SeedFace.
// Two faces are the same face when their image bytes are equal: no biometrics, just enough to
// stage a blocklisted face or a fraud ring.

// Search types of POST /v3/face-search/.
const (
	SearchMostSimilar           = "most_similar"
	SearchBlocklistedOrApproved = "blocklisted_or_approved"
)

// Sources of Face Search matches.
const (
	SourceSession   = "session"
	SourceImported  = "imported"
	SourceListEntry = "list_entry"
)

// sessionSimilarity is the similarity_percentage of a session whose face is the searched one.
const sessionSimilarity = 98.7

// blocklistSureSimilarity is the similarity from which a blocklisted match is FACE_IN_BLOCKLIST
// rather than POSSIBLE_FACE_IN_BLOCKLIST. Didit documents both codes but not the threshold.
const blocklistSureSimilarity = 90.0

// FaceRecord is a face the index knows besides sessions' faces: an imported face or a block or
// allow list entry.
type FaceRecord struct {
	// Source is SourceImported or SourceListEntry; empty means a list entry when Blocklisted or
	// Allowlisted, imported otherwise.
	Source string
	// VendorData of the user the face belongs to; list entries have none (Didit sends null).
	VendorData  string
	Blocklisted bool
	Allowlisted bool
	// Similarity is the match's similarity_percentage; 0 means 99.1. A blocklisted face below
	// 90 fires POSSIBLE_FACE_IN_BLOCKLIST instead of FACE_IN_BLOCKLIST.
	Similarity float64
	// SessionID is the session the face came from, if any (a blocklisted session's face).
	SessionID string
}

type faceEntry struct {
	hash [32]byte
	rec  FaceRecord
}

// FaceSearchCall records one POST /v3/face-search/ as received.
type FaceSearchCall struct {
	SearchType     string
	SaveAPIRequest bool
	RotateImage    bool
	VendorData     string
	Metadata       string
	ImageSHA256    string // hex of the uploaded image's SHA-256
	ImageSize      int
}

// SeedFace adds faces to the index under img's bytes, e.g. a blocklisted face
// (FaceRecord{Blocklisted: true}) or an allowlisted one.
func (s *Server) SeedFace(img []byte, recs ...FaceRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := sha256.Sum256(img)
	s.faceImages[h] = bytes.Clone(img)
	for _, r := range recs {
		s.faces = append(s.faces, faceEntry{hash: h, rec: r})
	}
}

// SeedFraudRing registers one Approved session per vendor_data, all with the face img: the
// other users a Face Search for img then finds. It returns the sessions.
func (s *Server) SeedFraudRing(img []byte, vendorData ...string) []Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Session, 0, len(vendorData))
	for _, v := range vendorData {
		ss := s.storeLocked(Session{VendorData: v, WorkflowID: "wf-kyc", Status: StatusApproved, FaceImage: bytes.Clone(img),
			Features: []FeatureResult{{Feature: FeatureID, Status: StatusApproved}, {Feature: FeatureLiveness, Status: StatusApproved}, {Feature: FeatureFaceMatch, Status: StatusApproved}}}, s.baseURL)
		out = append(out, *ss)
	}
	return out
}

// FaceSearches returns the Face Search calls seen, in order.
func (s *Server) FaceSearches() []FaceSearchCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.faceSearches)
}

// blockFaceLocked puts a session's face on the blocklist, as blocklist_face does.
func (s *Server) blockFaceLocked(img []byte, sessionID string) {
	h := sha256.Sum256(img)
	s.faceImages[h] = bytes.Clone(img)
	for _, f := range s.faces {
		if f.hash == h && f.rec.Blocklisted && f.rec.SessionID == sessionID {
			return // Didit keeps one entry per face
		}
	}
	s.faces = append(s.faces, faceEntry{hash: h, rec: FaceRecord{Source: SourceListEntry, Blocklisted: true, SessionID: sessionID}})
}

// enrolledLocked reports whether a session's face is in the index: it was given one, or a
// feature that captures a face has run.
func enrolledLocked(ss *Session) bool {
	if len(ss.FaceImage) > 0 {
		return true
	}
	for _, f := range ss.Features {
		switch f.Feature {
		case FeatureID, FeatureLiveness, FeatureFaceMatch, FeatureNFC:
			return true
		}
	}
	return false
}

type faceMatch struct {
	blocklisted, allowlisted bool
	similarity               float64
	blockedSession           string
	row                      map[string]any
}

func boolField(form map[string][]string, name string, def bool, fe fieldErrors) bool {
	v := form[name]
	if len(v) == 0 || v[0] == "" {
		return def
	}
	b, err := strconv.ParseBool(strings.ToLower(v[0]))
	if err != nil {
		fe.add(name, "Must be a valid boolean.")
		return def
	}
	return b
}

func (s *Server) faceSearch(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		if errors.Is(err, http.ErrNotMultipart) {
			writeJSON(w, http.StatusUnsupportedMediaType, map[string]any{"detail": "Unsupported media type " + strconv.Quote(r.Header.Get("Content-Type")) + " in request."})
			return
		}
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "Multipart form parse error - " + err.Error()})
		return
	}
	form := r.MultipartForm.Value
	fe := fieldErrors{}
	call := FaceSearchCall{SearchType: SearchMostSimilar}
	if v := form["search_type"]; len(v) > 0 && v[0] != "" {
		call.SearchType = v[0]
		if v[0] != SearchMostSimilar && v[0] != SearchBlocklistedOrApproved {
			fe.add("search_type", strconv.Quote(v[0])+" is not a valid choice.")
		}
	}
	call.SaveAPIRequest = boolField(form, "save_api_request", true, fe)
	call.RotateImage = boolField(form, "rotate_image", false, fe)
	if v := form["vendor_data"]; len(v) > 0 {
		call.VendorData = v[0]
	}
	if v := form["metadata"]; len(v) > 0 && v[0] != "" {
		call.Metadata = v[0]
		var m map[string]any
		if json.Unmarshal([]byte(v[0]), &m) != nil {
			fe.add("metadata", "Value must be valid JSON.")
		}
	}
	var img []byte
	if files := r.MultipartForm.File["user_image"]; len(files) == 0 {
		fe.add("user_image", "No file was submitted.")
	} else if f, err := files[0].Open(); err != nil {
		fe.add("user_image", "The submitted file is empty.")
	} else {
		img, _ = io.ReadAll(f)
		f.Close()
		if len(img) == 0 {
			fe.add("user_image", "The submitted file is empty.")
		}
	}
	if len(fe) > 0 {
		writeJSON(w, http.StatusBadRequest, fe)
		return
	}
	h := sha256.Sum256(img)
	call.ImageSHA256, call.ImageSize = hex.EncodeToString(h[:]), len(img)

	s.mu.Lock()
	base := s.baseFor(r)
	s.faceSearches = append(s.faceSearches, call)
	matches := s.faceMatchesLocked(h, call.SearchType, base)
	s.mu.Unlock()

	// Didit leaves faces enrolled by Face Search out of later results, so save_api_request
	// changes nothing the simulator answers; it is recorded for tests in FaceSearches.
	rows := []any{}
	warnings := []any{}
	status := StatusApproved
	for i, m := range matches {
		if i < 5 {
			rows = append(rows, m.row)
		}
	}
	for _, m := range matches {
		if !m.blocklisted {
			continue
		}
		risk, short := "FACE_IN_BLOCKLIST", "Face in blocklist"
		if m.similarity < blocklistSureSimilarity {
			risk, short = "POSSIBLE_FACE_IN_BLOCKLIST", "Possible face in blocklist"
		}
		warnings = append(warnings, map[string]any{
			"risk": risk, "feature": "LIVENESS", "log_type": "error",
			"additional_data":   map[string]any{"blocklisted_session_id": nullIfEmpty(m.blockedSession), "similarity_percentage": m.similarity},
			"short_description": short,
			"long_description":  "The face matches a face in the application's blocklist.",
		})
		status = StatusDeclined
		break // each risk fires at most once
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"request_id": uuid.NewString(),
		"face_search": map[string]any{
			"status":        status,
			"total_matches": len(matches),
			"matches":       rows,
			"user_image": map[string]any{
				"entities":   []any{map[string]any{"bbox": []int{40, 32, 188, 220}, "confidence": 0.9934}},
				"best_angle": 0,
			},
			"warnings": warnings,
		},
	})
}

// faceMatchesLocked finds the faces equal to h, ordered as Didit orders them: blocklisted
// first for blocklisted_or_approved, most similar first otherwise.
func (s *Server) faceMatchesLocked(h [32]byte, searchType, base string) []faceMatch {
	blockedSessions := map[string]bool{}
	for _, f := range s.faces {
		if f.rec.Blocklisted && f.rec.SessionID != "" {
			blockedSessions[f.rec.SessionID] = true
		}
	}
	var out []faceMatch
	for _, id := range s.order {
		ss := s.sessions[id]
		if !enrolledLocked(ss) || sha256.Sum256(faceLocked(ss)) != h {
			continue
		}
		if searchType == SearchBlocklistedOrApproved && ss.Status != StatusApproved && !blockedSessions[ss.ID] {
			continue
		}
		out = append(out, faceMatch{blocklisted: blockedSessions[ss.ID], similarity: sessionSimilarity, blockedSession: ss.ID, row: map[string]any{
			"session_id":            ss.ID,
			"session_number":        ss.Number,
			"similarity_percentage": sessionSimilarity,
			"source":                SourceSession,
			"vendor_data":           nullIfEmpty(ss.VendorData),
			"verification_date":     ss.CreatedAt.UTC().Format(time.RFC3339),
			"user_details":          map[string]any{"full_name": "Ana García López", "document_type": "Identity Card", "document_number": "X1234567K"},
			"match_image_url":       s.mediaURLLocked(ss, "liveness_reference"),
			"status":                ss.Status,
			"is_blocklisted":        blockedSessions[ss.ID],
			"is_allowlisted":        false,
			"vendor_user_id":        nil,
		}})
	}
	for _, f := range s.faces {
		if f.hash != h {
			continue
		}
		// A blocklisted session's face shows as that session (above) and as its list entry.
		rec := f.rec
		src := cmp.Or(rec.Source, map[bool]string{true: SourceListEntry, false: SourceImported}[rec.Blocklisted || rec.Allowlisted])
		sim := cmp.Or(rec.Similarity, 99.1)
		var sessionNumber any
		if ss, ok := s.sessions[rec.SessionID]; ok {
			sessionNumber = ss.Number
		}
		out = append(out, faceMatch{blocklisted: rec.Blocklisted, allowlisted: rec.Allowlisted, similarity: sim, blockedSession: rec.SessionID, row: map[string]any{
			"session_id":            nullIfEmpty(rec.SessionID),
			"session_number":        sessionNumber,
			"similarity_percentage": sim,
			"source":                src,
			"vendor_data":           nullIfEmpty(rec.VendorData),
			"verification_date":     nil,
			"user_details":          map[string]any{"full_name": nil, "document_type": nil, "document_number": nil},
			"match_image_url":       base + "/media/faces/" + hex.EncodeToString(h[:]) + ".png",
			"status":                nil,
			"is_blocklisted":        rec.Blocklisted,
			"is_allowlisted":        rec.Allowlisted,
			"vendor_user_id":        nil,
		}})
	}
	slices.SortStableFunc(out, func(a, b faceMatch) int {
		if searchType == SearchBlocklistedOrApproved && a.blocklisted != b.blocklisted {
			if a.blocklisted {
				return -1
			}
			return 1
		}
		return cmp.Compare(b.similarity, a.similarity)
	})
	return out
}
