//go:build integration

package profile

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/emulatortest"
	"github.com/riskwire/didit-risk/internal/policy"
)

// read returns a stored document's data, nil when there is none.
func read(t *testing.T, ref *firestore.DocumentRef) map[string]any {
	t.Helper()
	snap, err := ref.Get(context.Background())
	if err != nil || !snap.Exists() {
		return nil
	}
	return snap.Data()
}

// changedFields measures what a field-masked update from before to after sends: the name and
// value of every top-level field that changed and, for the maps written entry by entry
// (sessions, step_ups), of every entry that changed; a deleted field or entry counts its name.
// A new document counts whole.
func changedFields(path string, before, after map[string]any) docSize {
	if before == nil {
		return measureDoc(path, after)
	}
	var d docSize
	field := func(name string, o, n any, ok bool) {
		if ok && reflect.DeepEqual(o, n) {
			return
		}
		b, f := measureValue(n)
		if n == nil {
			b = 0 // a delete
		}
		d = d.add(docSize{Bytes: len(name) + 1 + b, Fields: 1 + f})
	}
	for _, k := range []string{"sessions", "step_ups"} {
		om, _ := before[k].(map[string]any)
		nm, _ := after[k].(map[string]any)
		for id, n := range nm {
			o, ok := om[id]
			field(k+"."+id, o, n, ok)
		}
		for id := range om {
			if _, ok := nm[id]; !ok {
				field(k+"."+id, nil, nil, false)
			}
		}
	}
	for k, n := range after {
		if k == "sessions" || k == "step_ups" {
			continue
		}
		o, ok := before[k]
		field(k, o, n, ok)
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			field(k, nil, nil, false)
		}
	}
	return d
}

// TestBytesPerWebhook measures what one webhook writes (Firestore's storage-size accounting:
// field names and values) for a new user and for a user with 50 sessions, each session a full
// v3 decision (every feature, the richest fixture), one a day. Goal (issue 17): ≤ 10 KB at 50
// sessions. Run: go run ./emulator/cmd/with-emulators -- go test -tags integration -count=1
// -run TestBytesPerWebhook -v ./internal/profile/
func TestBytesPerWebhook(t *testing.T) {
	fs := emulatortest.Firestore(t, emulatortest.Project(t))
	st := NewStore(fs)
	eng := NewEvaluator(policy.Default())
	h := hasher(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	at := time.Unix(1767225600, 0).UTC()

	pref := fs.Collection(Profiles).Doc("user-4242")
	// apply applies one webhook and reports what it wrote: the marker and the assessment (new
	// documents) and the profile's changed fields, beside the profile's stored size.
	apply := func(label string, ev Event) docSize {
		before := read(t, pref)
		res, err := st.Apply(ctx, ev, eng, now.Add(time.Duration(ev.EventTime.Sub(at)/time.Hour)*time.Second))
		require.NoError(t, err)
		require.Equal(t, Applied, res.Outcome)
		after := read(t, pref)
		mref, aref := pref.Collection(Processed).Doc(docKey(ev.Key)), pref.Collection(Assessments).Doc(docKey(ev.Key))
		m, a := measureDoc(mref.Path, read(t, mref)), docSize{}
		if ad := read(t, aref); ad != nil {
			a = measureDoc(aref.Path, ad)
		}
		p, stored := changedFields(pref.Path, before, after), measureDoc(pref.Path, after)
		total := m.add(a).add(p)
		if label != "" {
			t.Logf("%-34s written %6d B %4d fields = profile %5d B %4d fields + assessment %5d B %4d fields + marker %3d B | profile stored %6d B %4d fields | %d assessments read",
				label, total.Bytes, total.Fields, p.Bytes, p.Fields, a.Bytes, a.Fields, m.Bytes, stored.Bytes, stored.Fields, res.AssessmentReads)
		}
		return total
	}
	session := func(i int, status string, hours int) Event {
		return webhookEvent(t, "full_v3.json", fmt.Sprintf("evt-%02d-%s", i, status), fmt.Sprintf("session-%02d", i), status,
			at.Add(time.Duration(hours)*time.Hour), h)
	}

	first := apply("new user, 1st webhook (decided)", session(0, "Approved", 0))
	for i := 1; i < 49; i++ {
		apply("", session(i, "Approved", 24*i))
	}
	progress := apply("49-session user, In Progress", session(49, "In Progress", 24*49))
	fiftieth := apply("50-session user, 50th decided", session(49, "Approved", 24*49+1))
	later := apply("50-session user, 51st decided", session(50, "Approved", 24*50))
	late := apply("50-session user, late decision", session(51, "Declined", 24*48+12))
	assert.LessOrEqual(t, progress.Bytes, 10*1024)
	assert.LessOrEqual(t, late.Bytes, 12*1024, "an out-of-order decision rewrites the later sessions' verdicts")

	assert.LessOrEqual(t, first.Bytes, 10*1024)
	assert.LessOrEqual(t, fiftieth.Bytes, 10*1024, "issue 17: at most 10 KB written per webhook at 50 sessions")
	assert.LessOrEqual(t, later.Bytes, 10*1024, "issue 17: at most 10 KB written per webhook at 50 sessions")
}

// TestSchema2ProfileMigrates: a profile written under schema 2 (signals on its sessions) is
// folded from those signals, reading no assessment, and rewritten whole under schema 3 without
// them; the verdict is the one a fold from the start reaches.
func TestSchema2ProfileMigrates(t *testing.T) {
	fs := emulatortest.Firestore(t, emulatortest.Project(t))
	st := NewStore(fs)
	eng := NewEvaluator(policy.Default())
	ctx := context.Background()
	pref := fs.Collection(Profiles).Doc("u")

	evs := []Event{decided("e1", "s1", "Declined", t0, "doc-a"), decided("e2", "s2", "Approved", t0.Add(time.Hour), "doc-b")}
	want := newProfile(Event{UserID: "u"}, t0)
	for _, ev := range evs {
		_, err := recordT(&want, ev, eng, t0, nil)
		require.NoError(t, err)
	}
	// Schema 2: the same profile with each session's signals on it, and no assessments.
	v2 := want
	v2.SchemaVersion = 3 // as a step-up write stamps it on a schema 2 profile: the signals tell
	_, err := pref.Set(ctx, v2)
	require.NoError(t, err)
	var ups []firestore.Update
	for id, s := range want.Sessions {
		ups = append(ups, firestore.Update{FieldPath: firestore.FieldPath{"sessions", id, "signals"}, Value: *s.Signals},
			firestore.Update{FieldPath: firestore.FieldPath{"sessions", id, "level"}, Value: firestore.Delete})
	}
	_, err = pref.Update(ctx, ups)
	require.NoError(t, err)

	next := decided("e3", "s3", "Approved", t0.Add(2*time.Hour), "doc-b")
	for _, ev := range []Event{next} {
		ev.ProfileID = "u"
		res, err := st.Apply(ctx, ev, eng, t0)
		require.NoError(t, err)
		assert.Zero(t, res.AssessmentReads, "schema 2 signals are read from the profile itself")
	}
	_, err = recordT(&want, next, eng, t0, nil)
	require.NoError(t, err)

	data := read(t, pref)
	assert.EqualValues(t, SchemaVersion, data["schema_version"])
	for id, s := range data["sessions"].(map[string]any) {
		assert.NotContains(t, s, "signals", "session %s", id)
	}
	got, _, err := st.Get(ctx, "u")
	require.NoError(t, err)
	assert.Equal(t, want.Score, got.Score)
	assert.Equal(t, want.Level, got.Level)
	assert.Equal(t, want.Reasons, got.Reasons)
	assert.Equal(t, want.Sessions["s1"].Level, got.Sessions["s1"].Level)
}
