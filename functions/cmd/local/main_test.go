package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// make run's defaults fill only what the environment leaves empty; Face Search is on when make
// run plays Didit itself, and off (the functions' default) against a real Didit unless asked.
func TestSetDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want map[string]string // "" means left unset
	}{
		{"new user", nil, map[string]string{"FACE_SEARCH": "true", "DIDIT_API_URL": "http://127.0.0.1:8090",
			"PORT": "8080", "DIDIT_CALLBACK_URL": "http://127.0.0.1:8080/done", "DIDIT_API_KEY": "local-didit-api-key"}},
		{"face search turned off", map[string]string{"FACE_SEARCH": "false"}, map[string]string{"FACE_SEARCH": "false"}},
		{"ports honoured", map[string]string{"PORT": "18080", "DIDIT_SIM_PORT": "18090"}, map[string]string{
			"DIDIT_API_URL": "http://127.0.0.1:18090", "DIDIT_CALLBACK_URL": "http://127.0.0.1:18080/done", "FACE_SEARCH": "true"}},
		{"a real Didit: no searches unless asked", map[string]string{"DIDIT_API_URL": "https://verification.didit.me", "DIDIT_API_KEY": "k"},
			map[string]string{"FACE_SEARCH": "", "DIDIT_API_URL": "https://verification.didit.me", "DIDIT_API_KEY": "k"}},
		{"a real Didit, asked", map[string]string{"DIDIT_API_URL": "https://verification.didit.me", "FACE_SEARCH": "true"},
			map[string]string{"FACE_SEARCH": "true"}},
		{"emulators, project, secret and workflows honoured", map[string]string{"PUBSUB_EMULATOR_HOST": "127.0.0.1:1", "FIRESTORE_EMULATOR_HOST": "127.0.0.1:2",
			"GOOGLE_CLOUD_PROJECT": "p", "DIDIT_WEBHOOK_SECRET": "s", "STEP_UP_WORKFLOWS": "nfc=wf"}, map[string]string{"PUBSUB_EMULATOR_HOST": "127.0.0.1:1",
			"FIRESTORE_EMULATOR_HOST": "127.0.0.1:2", "GOOGLE_CLOUD_PROJECT": "p", "DIDIT_WEBHOOK_SECRET": "s", "STEP_UP_WORKFLOWS": "nfc=wf"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range tc.env {
				env[k] = v
			}
			require.NoError(t, setDefaults(func(k string) string { return env[k] }, func(k, v string) error { env[k] = v; return nil }))
			for k, v := range tc.want {
				assert.Equal(t, v, env[k], k)
			}
		})
	}
}
