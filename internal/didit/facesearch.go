package didit

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/riskwire/didit-risk/internal/failure"
)

// Face Search 1:N (POST /v3/face-search/, shared/didit-api.md §9.11). The answer carries other
// people's personal data (names, document numbers, match image URLs, vendor_data): the client
// decodes only what the reduction needs, and FaceSearchAnswer.Facts reduces it at once to the
// derived FaceSearchFacts, the only thing that leaves the step-up function.

// Search types of POST /v3/face-search/.
const (
	// SearchBlocklistedOrApproved screens against blocklisted and allowlisted faces, faces of
	// approved sessions and imported faces.
	SearchBlocklistedOrApproved = "blocklisted_or_approved"
	// SearchMostSimilar searches every enrolled face: dedupe and fraud rings.
	SearchMostSimilar = "most_similar"
)

// Face Search warning codes (shared/didit-api.md §3, §9.11).
const (
	RiskFaceInBlocklist         = "FACE_IN_BLOCKLIST"
	RiskPossibleFaceInBlocklist = "POSSIBLE_FACE_IN_BLOCKLIST"
)

// MaxFaceImageBytes bounds a downloaded face image: Didit's portraits are 1-2 MB.
const MaxFaceImageBytes = 5 << 20

// FaceSearchFacts are the derived facts of one Face Search: counts, flags and warning codes,
// never a name, document number, image URL, session id or vendor_data of anybody. The user's
// own sessions are left out of every count: Didit includes them among the matches.
type FaceSearchFacts struct {
	SearchType string `firestore:"search_type" json:"search_type"`
	// Matches is how many matches belong to someone else: total_matches less the user's own
	// listed matches (Didit lists at most 5 of them).
	Matches int64 `firestore:"matches" json:"matches"`
	// TopSimilarity is the highest similarity_percentage (0-100) among those; 0 when none.
	TopSimilarity float64 `firestore:"top_similarity" json:"top_similarity"`
	// Blocklisted and Allowlisted: some other match is on the application's block or allow list.
	Blocklisted bool `firestore:"blocklisted" json:"blocklisted"`
	Allowlisted bool `firestore:"allowlisted" json:"allowlisted"`
	// OtherUsers is the number of distinct vendor_data other than the user's among the listed
	// matches: several means one face behind several accounts.
	OtherUsers int64 `firestore:"other_users" json:"other_users"`
	// Codes are the answer's warning codes (FACE_IN_BLOCKLIST, POSSIBLE_FACE_IN_BLOCKLIST,
	// duplicate codes, NO_FACE_DETECTED, ...), sorted, without a blocklist warning that only the
	// user's own blocklisted session raised.
	Codes []string `firestore:"codes" json:"codes"`
}

// FaceSearchAnswer is the part of Didit's answer the reduction reads. user_details,
// match_image_url, verification_date and the image analysis are deliberately not decoded.
type FaceSearchAnswer struct {
	FaceSearch struct {
		Status       Status            `json:"status"`
		TotalMatches int64             `json:"total_matches"`
		Matches      []FaceSearchMatch `json:"matches"`
		Warnings     []struct {
			Risk           string `json:"risk"`
			AdditionalData struct {
				BlocklistedSessionID string `json:"blocklisted_session_id"`
			} `json:"additional_data"`
		} `json:"warnings"`
	} `json:"face_search"`
}

// FaceSearchMatch is one listed match, reduced to what the facts need.
type FaceSearchMatch struct {
	SessionID     string  `json:"session_id"`
	VendorData    string  `json:"vendor_data"` // null for list entries and imported faces
	Similarity    float64 `json:"similarity_percentage"`
	Source        string  `json:"source"`
	IsBlocklisted bool    `json:"is_blocklisted"`
	IsAllowlisted bool    `json:"is_allowlisted"`
}

// riskCode is what a warning code looks like; anything else is not kept.
var riskCode = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)

// Facts reduces the answer for the search of session sessionID of user vendorData (empty for
// an anonymous session). The user's own matches are the searched session and every listed
// session of vendorData; a list entry or warning naming one of those sessions (the user's face
// blocklisted by this very system) is the user's own too.
func (a FaceSearchAnswer) Facts(searchType, vendorData, sessionID string) FaceSearchFacts {
	fs := a.FaceSearch
	own := map[string]bool{}
	if sessionID != "" {
		own[sessionID] = true
	}
	for _, m := range fs.Matches {
		if vendorData != "" && m.VendorData == vendorData && m.SessionID != "" {
			own[m.SessionID] = true
		}
	}
	out := FaceSearchFacts{SearchType: searchType}
	users := map[string]bool{}
	var ownListed int64
	for _, m := range fs.Matches {
		if own[m.SessionID] || (vendorData != "" && m.VendorData == vendorData) {
			ownListed++
			continue
		}
		out.Matches++
		out.TopSimilarity = max(out.TopSimilarity, min(max(m.Similarity, 0), 100))
		out.Blocklisted = out.Blocklisted || m.IsBlocklisted
		out.Allowlisted = out.Allowlisted || m.IsAllowlisted
		if m.VendorData != "" {
			users[m.VendorData] = true
		}
	}
	out.Matches = max(out.Matches, fs.TotalMatches-ownListed)
	out.OtherUsers = int64(len(users))
	for _, w := range fs.Warnings {
		if !riskCode.MatchString(w.Risk) {
			continue
		}
		blockCode := w.Risk == RiskFaceInBlocklist || w.Risk == RiskPossibleFaceInBlocklist
		if blockCode && own[w.AdditionalData.BlocklistedSessionID] && !out.Blocklisted {
			continue // only the user's own blocklisted session matched
		}
		if !slices.Contains(out.Codes, w.Risk) {
			out.Codes = append(out.Codes, w.Risk)
		}
	}
	slices.Sort(out.Codes)
	return out
}

// FaceSearch runs a Face Search for img (POST /v3/face-search/, multipart) with
// save_api_request=false, so that the search neither enrols the face nor opens a billable API
// session. Retries as every call does; the image is sent on each attempt and kept nowhere.
func (c *Client) FaceSearch(ctx context.Context, img []byte, searchType string) (FaceSearchAnswer, error) {
	if len(img) == 0 {
		return FaceSearchAnswer{}, failure.Errorf(failure.Invalid, "didit face search: no image")
	}
	if searchType != SearchBlocklistedOrApproved && searchType != SearchMostSimilar {
		return FaceSearchAnswer{}, failure.Errorf(failure.Invalid, "didit face search: unknown search_type %q", searchType)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("user_image", "face"+imageExt(img))
	if err == nil {
		_, err = fw.Write(img)
	}
	for _, f := range [][2]string{{"search_type", searchType}, {"save_api_request", "false"}, {"rotate_image", "false"}} {
		if err == nil {
			err = mw.WriteField(f[0], f[1])
		}
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		return FaceSearchAnswer{}, failure.Errorf(failure.Internal, "didit face search: build form: %w", err)
	}
	var out FaceSearchAnswer
	err = c.do(ctx, call{method: http.MethodPost, path: "/v3/face-search/", body: body.Bytes(), contentType: mw.FormDataContentType(), want: http.StatusOK, out: &out})
	return out, err
}

// imageExt names the upload after its format, as a browser would.
func imageExt(img []byte) string {
	switch {
	case bytes.HasPrefix(img, []byte("\x89PNG")):
		return ".png"
	case bytes.HasPrefix(img, []byte{0xff, 0xd8}):
		return ".jpg"
	}
	return ""
}

// ErrNoFace means the session's decision links no face image: there is nothing to search.
var ErrNoFace = errors.New("the session's decision has no face image")

// SessionFace returns the face of a session: its decision, read with the API key, links the
// liveness reference image (the face captured live), else the document or NFC chip portrait;
// the image is downloaded from that presigned link without the API key. mediaHosts are the
// hosts (host[:port]) an image link may point at: https only, or http on a loopback host (a
// local simulator). The bytes are for one Face Search, never stored. A decision without a
// face is ErrNoFace (Invalid); a link off mediaHosts is Invalid.
func (c *Client) SessionFace(ctx context.Context, sessionID string, mediaHosts []string) ([]byte, error) {
	raw, err := c.GetDecision(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	var d struct {
		SessionID      string `json:"session_id"`
		LivenessChecks []struct {
			ReferenceImage string `json:"reference_image"`
		} `json:"liveness_checks"`
		IDVerifications []struct {
			PortraitImage string `json:"portrait_image"`
		} `json:"id_verifications"`
		NFCVerifications []struct {
			PortraitImage string `json:"portrait_image"`
		} `json:"nfc_verifications"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, failure.Errorf(failure.Transient, "didit session face: decode decision: %w", err)
	}
	if d.SessionID != "" && d.SessionID != sessionID {
		return nil, failure.Errorf(failure.Invalid, "didit session face: asked for session %s, got another", sessionID)
	}
	var link string
	for _, l := range d.LivenessChecks {
		link = cmp.Or(link, l.ReferenceImage)
	}
	for _, v := range d.IDVerifications {
		link = cmp.Or(link, v.PortraitImage)
	}
	for _, v := range d.NFCVerifications {
		link = cmp.Or(link, v.PortraitImage)
	}
	if link == "" {
		return nil, failure.New(failure.Invalid, fmt.Errorf("session %s: %w", sessionID, ErrNoFace))
	}
	return c.download(ctx, link, mediaHosts)
}

// download reads one presigned image link, retried like an API call, without the API key:
// the link is its own authorisation, and a key sent there would leave Didit's API.
func (c *Client) download(ctx context.Context, link string, hosts []string) ([]byte, error) {
	u, err := url.Parse(link)
	switch {
	case err != nil || u.Host == "" || u.User != nil:
		return nil, failure.Errorf(failure.Invalid, "didit session face: unusable image link")
	case !slices.ContainsFunc(hosts, func(h string) bool { return strings.EqualFold(h, u.Host) }):
		// The host is not secret; the link (a bearer URL) is never part of an error.
		return nil, failure.Errorf(failure.Invalid, "didit session face: image host %s is not a media host (DIDIT_MEDIA_HOSTS)", u.Host)
	case u.Scheme != "https" && (u.Scheme != "http" || !loopback(u.Host)):
		return nil, failure.Errorf(failure.Invalid, "didit session face: image link is not https")
	}
	attempts := max(c.Retry.MaxAttempts, 1)
	for attempt := 1; ; attempt++ {
		img, status, err := c.fetchImage(ctx, u.String())
		switch {
		case err != nil && failure.Permanent(err):
			return nil, err
		case err == nil && status == http.StatusOK:
			if len(img) == 0 {
				return nil, failure.Errorf(failure.Invalid, "didit session face: empty image")
			}
			return img, nil
		case err == nil && status != http.StatusTooManyRequests && status < 500:
			// An expired or refused link does not heal; 3xx is refused like every redirect.
			return nil, failure.Errorf(failure.Invalid, "didit session face: image download answered %d", status)
		}
		if err == nil {
			err = fmt.Errorf("image download answered %d", status)
		}
		if ctx.Err() != nil || attempt >= attempts {
			return nil, failure.Errorf(failure.Transient, "didit session face: attempt %d: %w", attempt, err)
		}
		if err := c.Sleep(ctx, c.backoff(attempt)); err != nil {
			return nil, failure.Errorf(failure.Transient, "didit session face: %w", err)
		}
	}
}

func (c *Client) fetchImage(ctx context.Context, link string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, link, nil)
	if err != nil {
		return nil, 0, errors.New("build image request")
	}
	req.Header.Set("Accept", "image/*")
	req.Header.Set("User-Agent", "riskwire-didit-risk/1")
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the link
		}
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, nil
	}
	img, err := io.ReadAll(io.LimitReader(resp.Body, MaxFaceImageBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("read image: %w", err)
	}
	if len(img) > MaxFaceImageBytes {
		return nil, 0, failure.Errorf(failure.Invalid, "didit session face: image larger than %d bytes", MaxFaceImageBytes)
	}
	return img, resp.StatusCode, nil
}

// loopback reports whether host[:port] is localhost or a loopback address (config.IsLoopback's
// rule; config is not imported here).
func loopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
