package diditsim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strings"
)

// Media: Didit's decision links images through short-lived presigned URLs (shared/didit-api.md
// §2.2). The simulator serves its own at {base}/media/{session_id}/{name}, without the API key,
// as a presigned link needs none, so that a client can download a session's face.

// faceMedia are the media names that show the session's face.
var faceMedia = map[string]bool{"id_portrait": true, "liveness_reference": true, "nfc_portrait": true, "face_source": true, "face_target": true}

// mediaURLLocked is the presigned-looking URL of one of a session's media files.
func (s *Server) mediaURLLocked(ss *Session, name string) string {
	base := cmpOr(ss.base, s.baseURL, "http://diditsim.invalid")
	ext := ".png"
	if name == "poa_document" {
		ext = ".pdf"
	}
	return base + "/media/" + ss.ID + "/" + name + ext + "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600&X-Amz-Signature=0000simulated"
}

func cmpOr(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// FaceImage returns a tiny PNG standing for a face: the same seed gives the same bytes, so two
// sessions given one seed's image share a face for Face Search.
func FaceImage(seed string) []byte {
	sum := sha256.Sum256([]byte("diditsim face " + seed))
	img := image.NewNRGBA(image.Rect(0, 0, 4, 4))
	for i := 0; i < 16; i++ {
		img.Set(i%4, i/4, color.NRGBA{R: sum[i], G: sum[(i+8)%32], B: sum[(i+16)%32], A: 0xff})
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}

// faceLocked is the session's face: FaceImage if set, else one of its own.
func faceLocked(ss *Session) []byte {
	if len(ss.FaceImage) > 0 {
		return ss.FaceImage
	}
	return FaceImage(ss.ID)
}

// SetFace gives a session a face image (see FaceImage), which its decision's portrait and
// reference images then show and Face Search matches on.
func (s *Server) SetFace(sessionID string, img []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[sessionID]
	if ok {
		ss.FaceImage = bytes.Clone(img)
	}
	return ok
}

// getMedia serves a session's media: its face for face images, a blank PNG for other images,
// a minimal PDF for documents.
func (s *Server) getMedia(w http.ResponseWriter, r *http.Request) {
	name, ext, _ := strings.Cut(r.PathValue("file"), ".")
	s.mu.Lock()
	ss, ok := s.sessions[r.PathValue("id")]
	var body []byte
	if r.PathValue("id") == "faces" { // an indexed face, by the hex of its hash
		var h [32]byte
		if b, err := hex.DecodeString(name); err == nil && len(b) == 32 {
			copy(h[:], b)
			body, ok = s.faceImages[h]
		}
	} else if ok {
		switch {
		case faceMedia[name]:
			body = bytes.Clone(faceLocked(ss))
		case ext == "pdf":
			body = []byte("%PDF-1.4\n%%EOF\n")
		default:
			body = FaceImage("blank")
		}
	}
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	ct := "image/png"
	if ext == "pdf" {
		ct = "application/pdf"
	}
	w.Header().Set("Content-Type", ct)
	_, _ = w.Write(body)
}
