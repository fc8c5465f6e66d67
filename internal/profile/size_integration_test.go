//go:build integration

package profile

import (
	"context"
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/emulatortest"
	"github.com/riskwire/didit-risk/internal/policy"
)

// written measures the documents one webhook wrote: its dedupe marker, its assessment (if
// any) and the profile, each read back from the emulator as stored.
func written(t *testing.T, fs *firestore.Client, profileID, key string) (marker, assessment, prof docSize) {
	t.Helper()
	ctx := context.Background()
	pref := fs.Collection(Profiles).Doc(profileID)
	measure := func(ref *firestore.DocumentRef) docSize {
		snap, err := ref.Get(ctx)
		if err != nil || !snap.Exists() {
			return docSize{}
		}
		return measureDoc(ref.Path, snap.Data())
	}
	return measure(pref.Collection(Processed).Doc(docKey(key))), measure(pref.Collection(Assessments).Doc(docKey(key))), measure(pref)
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

	report := func(label, key string) docSize {
		m, a, p := written(t, fs, "user-4242", key)
		total := m.add(a).add(p)
		t.Logf("%-28s total %6d B %5d fields | profile %6d B %5d fields | assessment %5d B %4d fields | marker %4d B",
			label, total.Bytes, total.Fields, p.Bytes, p.Fields, a.Bytes, a.Fields, m.Bytes)
		return total
	}
	apply := func(i int) string {
		key := fmt.Sprintf("evt-%02d", i)
		ev := webhookEvent(t, "full_v3.json", key, fmt.Sprintf("session-%02d", i), "Approved", at.Add(time.Duration(i)*24*time.Hour), h)
		_, err := st.Apply(ctx, ev, eng, now.Add(time.Duration(i)*time.Second))
		require.NoError(t, err)
		return key
	}

	first := report("new user (1st session)", apply(0))
	var fiftieth docSize
	for i := 1; i < 50; i++ {
		key := apply(i)
		if i == 49 {
			fiftieth = report("50-session user (50th)", key)
		}
	}
	later := report("50-session user (51st)", apply(50))

	assert.LessOrEqual(t, first.Bytes, 10*1024)
	assert.LessOrEqual(t, fiftieth.Bytes, 10*1024, "issue 17: at most 10 KB written per webhook at 50 sessions")
	assert.LessOrEqual(t, later.Bytes, 10*1024, "issue 17: at most 10 KB written per webhook at 50 sessions")
}
