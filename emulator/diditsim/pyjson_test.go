package diditsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/diditsim"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/webhook"
	"github.com/riskwire/didit-risk/testdata"
)

type pyVector struct{ Input, Python, V2 string }

func loadVectors(t *testing.T) []pyVector {
	raw := testdata.Read(t, "diditsim/pyjson_vectors.json")
	var vectors []pyVector
	require.NoError(t, json.Unmarshal(raw, &vectors))
	require.NotEmpty(t, vectors)
	return vectors
}

// CanonicalV2 reproduces, byte for byte, the canonical text Python's recipe gives.
func TestCanonicalV2MatchesPythonVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Input, func(t *testing.T) {
			require.NotEmpty(t, v.V2, "regenerate the vectors with generate.py")
			got, err := diditsim.CanonicalV2Body([]byte(v.Input))
			require.NoError(t, err)
			assert.Equal(t, v.V2, string(got))
		})
	}
}

// python3 runs Didit's documented recipe (testdata/diditsim/canonical.py) on the bodies.
func python3(t *testing.T, bodies []string) []string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed; TestCanonicalV2MatchesPythonVectors covers the recorded vectors")
	}
	in, err := json.Marshal(bodies)
	require.NoError(t, err)
	cmd := exec.Command(py, testdata.Dir(t, "diditsim", "canonical.py"))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	var texts []string
	require.NoError(t, json.Unmarshal(out, &texts))
	require.Len(t, texts, len(bodies))
	return texts
}

// The webhooks the simulator sends are signed over exactly what Python computes for them:
// every step-up kind's decision, a reviewed decision, a fixture, and edge cases.
func TestCanonicalV2AgainstPython3(t *testing.T) {
	rc, rsrv := newReceiver(t)
	sim, srv := newSim(t, diditsim.Options{WebhookURL: rsrv.URL})
	bodies := map[string][]byte{}
	for _, kind := range []policy.StepKind{"nfc", "phone", "biometric", "poa", "email", "kyc"} {
		created := createStepUp(t, srv, kind)
		_, err := sim.Complete(context.Background(), created.SessionID, diditsim.Decline)
		require.NoError(t, err)
		bodies["complete "+string(kind)] = (<-rc.ch).body
	}
	fixture := testdata.Read(t, "webhooks/full_v3.json")
	bodies["fixture full_v3"] = bytes.TrimRight(fixture, "\n")
	bodies["edge"] = []byte(`{"a":1.0,"b":[1e300,2.50,-0.0,1E-9],"c":"\u00e9\ud83d\ude00 <&> \u2028","d":{"z":{"y":null}},"e":12345678901234567890}`)

	var names, texts []string
	for name, body := range bodies {
		names, texts = append(names, name), append(texts, string(body))
	}
	wants := python3(t, texts)
	for i, name := range names {
		body, want := bodies[name], wants[i]
		t.Run(name, func(t *testing.T) {
			got, err := diditsim.CanonicalV2Body(body)
			require.NoError(t, err)
			assert.Equal(t, want, string(got))
			// And the V2 header Sign puts on the body is the HMAC of Python's text.
			h := sim.Sign(body)
			assert.Equal(t, webhook.Sign([]byte(secret), []byte(want)), h.Get(webhook.HeaderSignatureV2))
		})
	}
	assert.True(t, strings.Contains(string(bodies["complete kyc"]), `\u00ed`), "the raw body escapes non-ASCII")
}
