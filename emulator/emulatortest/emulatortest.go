// Package emulatortest connects integration tests to the emulators that `make test` starts.
// A test that needs an emulator fails (never skips) when it is not there, saying how to run it.
package emulatortest

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/http"
	"os"
	"strings"
	"testing"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"github.com/stretchr/testify/require"
)

// Host returns the emulator address from env, failing the test when it is unset.
func Host(t testing.TB, env string) string {
	t.Helper()
	h := os.Getenv(env)
	if h == "" {
		t.Fatalf("%s is not set: integration tests run against the emulators; use `make test` "+
			"(or `go run ./emulator/cmd/with-emulators -- go test -tags integration ./...`)", env)
	}
	return h
}

// Project returns a project id unique to the test, so that packages running in parallel and
// tests within one package never see each other's topics or documents.
func Project(t testing.TB) string {
	name := strings.ToLower(t.Name())
	var b strings.Builder
	for _, r := range name {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	id := b.String()
	if len(id) > 20 {
		id = id[:20]
	}
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%d", t.Name(), os.Getpid())
	return fmt.Sprintf("t-%s-%08x", strings.Trim(id, "-"), h.Sum32())
}

// PubSub returns a client on the Pub/Sub emulator, closed at the end of the test.
func PubSub(t testing.TB, project string) *pubsub.Client {
	t.Helper()
	Host(t, "PUBSUB_EMULATOR_HOST")
	c, err := pubsub.NewClient(context.Background(), project)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Firestore returns a client on the Firestore emulator with the project's data wiped first
// and after the test.
func Firestore(t testing.TB, project string) *firestore.Client {
	t.Helper()
	host := Host(t, "FIRESTORE_EMULATOR_HOST")
	wipe := func() {
		req, _ := http.NewRequest(http.MethodDelete,
			"http://"+host+"/emulator/v1/projects/"+project+"/databases/(default)/documents", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	wipe()
	c, err := firestore.NewClient(context.Background(), project)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(); wipe() })
	return c
}
