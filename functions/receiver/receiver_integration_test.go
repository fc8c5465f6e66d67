//go:build integration

package receiver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator"
	"github.com/riskwire/didit-risk/emulator/emulatortest"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/webhook"
	"github.com/riskwire/didit-risk/testdata"
)

const secret = "whsec_integration"

func env(project string) func(string) string {
	m := map[string]string{
		"GOOGLE_CLOUD_PROJECT": project, "DIDIT_WEBHOOK_SECRET": "old-secret," + secret,
		"PUBLISH_TIMEOUT": "1s", "LOG_FORMAT": "json",
	}
	return func(k string) string { return m[k] }
}

// fresh returns a fixture dated now: the receiver refuses bodies older than REPLAY_HORIZON.
func fresh(t *testing.T, name string) []byte {
	t.Helper()
	raw := testdata.Read(t, "webhooks/"+name)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	m["timestamp"], m["created_at"] = time.Now().Unix(), time.Now().Unix()
	body, err := json.Marshal(m)
	require.NoError(t, err)
	return body
}

func post(t *testing.T, url string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("X-Timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	req.Header.Set("X-Signature", webhook.Sign([]byte(secret), body))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestAcceptedMeansPullable(t *testing.T) {
	project := emulatortest.Project(t)
	ps := emulatortest.PubSub(t, project)
	sub := emulatortest.Topic(t, ps, project, "didit-webhooks")

	h, closeFn, err := New(context.Background(), env(project), io.Discard)
	require.NoError(t, err)
	defer closeFn()
	srv := httptest.NewServer(h)
	defer srv.Close()

	body := fresh(t, "full_v3.json")
	require.Equal(t, http.StatusOK, post(t, srv.URL, body))

	msgs := emulatortest.Pull(t, ps, sub, 1, 10*time.Second)
	require.Len(t, msgs, 1)
	assert.Equal(t, body, msgs[0].Data)
	a := message.ParseWebhookAttrs(msgs[0].Attributes)
	assert.Equal(t, "user-4242", a.VendorData)
	assert.Equal(t, "raw", a.Signature)
	assert.NotEmpty(t, a.EventKey)
	assert.True(t, a.Scorable())
	assert.Equal(t, message.TypeWebhook, message.TypeOf(msgs[0].Attributes))

	// A replay of a genuine body older than the horizon is refused and never published.
	old := testdata.Read(t, "webhooks/approved_clean_v3.json") // dated 2026-01-01
	require.Equal(t, http.StatusUnauthorized, post(t, srv.URL, old))
	assert.Empty(t, emulatortest.Pull(t, ps, sub, 1, 2*time.Second))
}

// TestPubSubDownMeans503 stops a dedicated emulator: every webhook answered 200 is in the topic,
// every other one was answered 503 (so Didit retries), and the receiver recovers on its own.
func TestPubSubDownMeans503(t *testing.T) {
	ctx := context.Background()
	e, err := emulator.Start(ctx, emulator.PubSub, "", nil)
	require.NoError(t, err)
	defer e.Stop()
	t.Setenv("PUBSUB_EMULATOR_HOST", e.Host)

	project := emulatortest.Project(t)
	ps := emulatortest.PubSub(t, project)
	sub := emulatortest.Topic(t, ps, project, "didit-webhooks")
	h, closeFn, err := New(ctx, env(project), io.Discard)
	require.NoError(t, err)
	defer closeFn()
	srv := httptest.NewServer(h)
	defer srv.Close()
	body := fresh(t, "approved_clean_v3.json")

	require.Equal(t, http.StatusOK, post(t, srv.URL, body))
	require.Len(t, emulatortest.Pull(t, ps, sub, 1, 10*time.Second), 1)

	e.Kill()
	start := time.Now()
	for range 3 {
		assert.Equal(t, http.StatusServiceUnavailable, post(t, srv.URL, body))
	}
	assert.Less(t, time.Since(start), 5*time.Second, "each refusal is bounded by PUBLISH_TIMEOUT, well under Didit's 5 s")

	// The emulator comes back empty, as after a crash: recreate the topology; the receiver's
	// client reconnects by itself.
	require.NoError(t, e.Restart(ctx))
	ps2 := emulatortest.PubSub(t, project)
	sub = emulatortest.Topic(t, ps2, project, "didit-webhooks")
	require.Eventually(t, func() bool { return post(t, srv.URL, body) == http.StatusOK }, 20*time.Second, 200*time.Millisecond)
	assert.NotEmpty(t, emulatortest.Pull(t, ps2, sub, 1, 10*time.Second))
}
