//go:build integration

package scorer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/riskwire/didit-risk/emulator/emulatortest"
	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/logging"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/scoring"
	"github.com/riskwire/didit-risk/testdata"
)

// decisions records published decision events.
type decisions struct {
	mu  sync.Mutex
	got []message.Decision
}

func (d *decisions) Publish(_ context.Context, data []byte, attrs map[string]string) (string, error) {
	var dec message.Decision
	if err := json.Unmarshal(data, &dec); err != nil {
		return "", err
	}
	if attrs[message.AttrAction] != string(dec.Action) {
		return "", fmt.Errorf("attribute action %q != %q", attrs[message.AttrAction], dec.Action)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.got = append(d.got, dec)
	return "d", nil
}

func (d *decisions) all() []message.Decision {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]message.Decision(nil), d.got...)
}

func setup(t *testing.T) (*Handler, *firestore.Client, *decisions) {
	t.Helper()
	fs := emulatortest.Firestore(t, emulatortest.Project(t))
	dec := &decisions{}
	return &Handler{
		Profiles: profile.NewStore(fs), Engine: scoring.NewEngine(policy.Default()),
		Hash: scoring.NewHasher([]byte("test-hash-key")), Decisions: dec,
		Log: logging.New(io.Discard, "json", "info"), Now: time.Now,
	}, fs, dec
}

// pushEvent wraps a signature-covered webhook body the way the Functions Framework hands a
// Pub/Sub push over; nil attributes are those of a body the receiver authenticated.
func pushEvent(t testing.TB, body []byte, attrs map[string]string) event.Event {
	t.Helper()
	if attrs == nil {
		attrs = authenticated("")
	}
	return push(t, body, attrs)
}

func getProfile(t *testing.T, fs *firestore.Client, id string) profile.Profile {
	t.Helper()
	snap, err := fs.Collection(profile.Profiles).Doc(id).Get(context.Background())
	require.NoError(t, err)
	var p profile.Profile
	require.NoError(t, snap.DataTo(&p))
	return p
}

func count(t *testing.T, fs *firestore.Client, id, sub string) int {
	t.Helper()
	docs, err := fs.Collection(profile.Profiles).Doc(id).Collection(sub).Documents(context.Background()).GetAll()
	require.NoError(t, err)
	return len(docs)
}

func TestDeliveredThreeTimesAppliedOnce(t *testing.T) {
	h, fs, dec := setup(t)
	e := pushEvent(t, testdata.Read(t, "webhooks/full_v3.json"), nil)
	for range 3 {
		require.NoError(t, h.Handle(context.Background(), e))
	}
	p := getProfile(t, fs, "user-4242")
	assert.Equal(t, 1, p.EventsApplied)
	assert.Equal(t, 1, p.AssessmentsTotal)
	assert.Equal(t, 1, count(t, fs, "user-4242", profile.Assessments))
	assert.NotEmpty(t, p.Level)
	assert.NotEmpty(t, p.Reasons)
	assert.Equal(t, policy.Default().Version, p.PolicyVersion)
	assert.Equal(t, profile.SchemaVersion, p.SchemaVersion)

	// Every delivery announces the same decision (the first may have been stored, not announced).
	got := dec.all()
	require.Len(t, got, 3)
	for _, d := range got {
		assert.Equal(t, got[0].AssessmentID, d.AssessmentID)
		assert.Equal(t, p.Action, d.Action)
	}
}

func TestOlderEventNeverOverwritesNewer(t *testing.T) {
	h, fs, _ := setup(t)
	approved := testdata.Read(t, "webhooks/approved_clean_v3.json")
	older := mutate(t, approved, func(m map[string]any) {
		m["status"], m["event_id"] = "In Progress", "older-event"
		m["timestamp"] = m["timestamp"].(float64) - 60
		delete(m, "decision")
	})
	require.NoError(t, h.Handle(context.Background(), pushEvent(t, approved, nil)))
	before := getProfile(t, fs, "user-1001")
	require.NoError(t, h.Handle(context.Background(), pushEvent(t, older, nil)))
	after := getProfile(t, fs, "user-1001")

	// The session's state and the verdict stay; only the session's start moves back to the
	// older event's time, which history windows count from.
	require.Len(t, after.Sessions, 1)
	for id, s := range after.Sessions {
		assert.Equal(t, didit.StatusApproved, s.Status)
		assert.Equal(t, before.Sessions[id].EventTime, s.EventTime)
		assert.True(t, s.FirstSeen.Before(before.Sessions[id].FirstSeen), "first_seen moved back to the older event")
		assert.Equal(t, before.Sessions[id].AssessmentID, s.AssessmentID, "the decision (and so its signals, in its assessment) stays")
		assert.Equal(t, before.Sessions[id].Level, s.Level)
	}
	assert.Equal(t, before.Action, after.Action)
	assert.Equal(t, before.Score, after.Score)
	assert.Equal(t, before.Reasons, after.Reasons)
	assert.Equal(t, before.LastAssessmentID, after.LastAssessmentID)
	assert.Equal(t, before.EventsApplied, after.EventsApplied, "a stale event is not applied")
	assert.Equal(t, 1, count(t, fs, "user-1001", profile.Assessments))
	assert.Equal(t, policy.Approve, after.Action)
}

func TestConcurrentEventsForOneUser(t *testing.T) {
	h, fs, _ := setup(t)
	const n = 20
	base := testdata.Read(t, "webhooks/approved_clean_v3.json")
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		body := mutate(t, base, func(m map[string]any) {
			m["session_id"] = fmt.Sprintf("sess-%02d", i)
			m["event_id"] = fmt.Sprintf("evt-%02d", i)
			m["timestamp"] = m["timestamp"].(float64) + float64(i)
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Pub/Sub redelivers whatever the function did not ack; so does this loop.
			for attempt := 0; ; attempt++ {
				err := h.Handle(context.Background(), pushEvent(t, body, nil))
				if err == nil {
					return
				}
				if attempt == 20 {
					errs <- err
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	p := getProfile(t, fs, "user-1001")
	assert.Equal(t, n, p.EventsApplied)
	assert.Equal(t, n, p.AssessmentsTotal)
	assert.Len(t, p.Sessions, n)
	assert.Equal(t, n, count(t, fs, "user-1001", profile.Assessments))
	assert.Equal(t, "sess-19", p.LastSessionID, "the verdict is about the latest session")

	snap, err := fs.Collection(profile.Profiles).Doc("user-1001").Collection(profile.Assessments).Doc(p.LastAssessmentID).Get(context.Background())
	require.NoError(t, err)
	var a profile.Assessment
	require.NoError(t, snap.DataTo(&a))
	assert.Equal(t, n, a.History.Sessions24h, "history counts every session, whatever order they landed in")
	assert.Contains(t, ruleIDs(p.Reasons), "velocity_sessions_24h", "twenty sessions in a day is velocity")
}

func ruleIDs(rs []profile.Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Rule
	}
	return out
}

// TestNoPersonalDataAtRest searches every stored field, in every document the scorer wrote, for
// the fixture's personal data.
func TestNoPersonalDataAtRest(t *testing.T) {
	h, fs, dec := setup(t)
	require.NoError(t, h.Handle(context.Background(), pushEvent(t, testdata.Read(t, "webhooks/full_v3.json"), nil)))

	forbidden := []string{"Ana", "García", "Garc", "López", "1990-04-12", "X1234567K", "ana.garcia", "+34612345678",
		"https://", "http://", "Calle", "IDESP", "acc_4242"}
	var values []string
	ctx := context.Background()
	ref := fs.Collection(profile.Profiles).Doc("user-4242")
	snap, err := ref.Get(ctx)
	require.NoError(t, err)
	values = append(values, strs(snap.Data())...)
	collections := ref.Collections(ctx)
	for {
		col, err := collections.Next()
		if err == iterator.Done {
			break
		}
		require.NoError(t, err)
		docs, err := col.Documents(ctx).GetAll()
		require.NoError(t, err)
		for _, d := range docs {
			values = append(values, strs(d.Data())...)
		}
	}
	for _, d := range dec.all() {
		b, _ := json.Marshal(d)
		values = append(values, string(b))
	}
	require.NotEmpty(t, values)
	for _, v := range values {
		for _, f := range forbidden {
			assert.NotContains(t, v, f)
		}
	}
}

// strs returns every string (keys included) inside a Firestore value.
func strs(v any) []string {
	var out []string
	var walk func(reflect.Value)
	walk = func(r reflect.Value) {
		switch r.Kind() {
		case reflect.Interface, reflect.Pointer:
			if !r.IsNil() {
				walk(r.Elem())
			}
		case reflect.String:
			out = append(out, r.String())
		case reflect.Map:
			for _, k := range r.MapKeys() {
				walk(k)
				walk(r.MapIndex(k))
			}
		case reflect.Slice, reflect.Array:
			for i := range r.Len() {
				walk(r.Index(i))
			}
		}
	}
	walk(reflect.ValueOf(v))
	return out
}

func TestUndecodableMessageIsRefusedLoudly(t *testing.T) {
	h, _, _ := setup(t)
	var logs strings.Builder
	h.Log = logging.New(&logs, "json", "info")
	err := h.Handle(context.Background(), pushEvent(t, []byte("not json"), nil))
	require.Error(t, err, "returned, so Pub/Sub dead-letters it after the configured attempts")
	assert.Contains(t, logs.String(), `"severity":"ERROR"`)
}

// TestUncoveredOrForeignMessagesLeaveFirestoreUntouched: a decision no signature covered, and
// events that are not KYC user sessions, are acked and write nothing at all.
func TestUncoveredOrForeignMessagesLeaveFirestoreUntouched(t *testing.T) {
	body := testdata.Read(t, "webhooks/full_v3.json")
	tests := []struct {
		name  string
		attrs map[string]string
	}{
		{"X-Signature-Simple only", unauthenticated("")},
		{"KYB business session", attrs("", message.ClassBusiness, true, "v2")},
		{"console test delivery", attrs("", message.ClassTest, true, "v2")},
		{"other event type", attrs("", message.ClassOther, true, "v2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, fs, dec := setup(t)
			require.NoError(t, h.Handle(context.Background(), pushEvent(t, body, tt.attrs)))
			_, err := fs.Collection(profile.Profiles).Doc("user-4242").Get(context.Background())
			require.Error(t, err)
			assert.Equal(t, codes.NotFound, status.Code(err), "no profile created or changed")
			assert.Empty(t, dec.all())
		})
	}
}
