package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/policy"
)

func TestStepUpAPIURLMustBeHTTPSOrLoopback(t *testing.T) {
	base := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "DIDIT_API_KEY": "k"}
	tests := []struct {
		url       string
		ok        bool
		wantHosts []string
	}{
		{"", true, []string{"verify.didit.me"}},
		{"https://verification.didit.me/", true, []string{"verify.didit.me"}},
		{"http://127.0.0.1:8090", true, []string{"127.0.0.1:8090"}},
		{"http://localhost:8090", true, []string{"localhost:8090"}},
		{"http://[::1]:8090", true, []string{"[::1]:8090"}},
		{"http://verification.didit.me", false, nil},
		{"http://10.0.0.5:8090", false, nil},
		{"http://127.0.0.1.evil.example", false, nil},
		{"ftp://verification.didit.me", false, nil},
		{"verification.didit.me", false, nil},
		{"https://user:pw@verification.didit.me", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			m := map[string]string{"DIDIT_API_URL": tt.url}
			for k, v := range base {
				m[k] = v
			}
			c, err := LoadStepUp(env(m))
			if !tt.ok {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "DIDIT_API_URL")
				assert.Contains(t, err.Error(), "https")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantHosts, c.VerifyHosts)
		})
	}
}

func TestStepUpVerifyHostsConfigured(t *testing.T) {
	c, err := LoadStepUp(env(map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "DIDIT_API_KEY": "k",
		"DIDIT_API_URL": "http://127.0.0.1:9", "DIDIT_VERIFY_HOSTS": "verify.didit.me, verify.example"}))
	require.NoError(t, err)
	assert.Equal(t, []string{"verify.didit.me", "verify.example"}, c.VerifyHosts)
}

func TestCheckStepKinds(t *testing.T) {
	c, err := LoadStepUp(env(map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "DIDIT_API_KEY": "k",
		"STEP_UP_WORKFLOWS": "nfc=wf-nfc,phnoe=wf-phone,retina=wf-r"}))
	require.NoError(t, err)
	err = c.CheckStepKinds()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown step-up kind "phnoe", "retina"`)
	assert.Contains(t, err.Error(), "STEP_UP_WORKFLOWS")

	c.Workflows = map[policy.StepKind]string{"nfc": "wf-nfc", "phone": "wf-phone"}
	assert.NoError(t, c.CheckStepKinds())
}
