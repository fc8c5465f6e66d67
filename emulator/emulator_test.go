//go:build integration

package emulator

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStartStopLeavesNothingRunning proves the process-group handling: after Stop, neither the
// wrapper nor its Java child is alive, and the port answers no more.
func TestStartStopLeavesNothingRunning(t *testing.T) {
	e, err := Start(context.Background(), PubSub, "", nil)
	require.NoError(t, err)
	pgid := e.cmd.Process.Pid

	resp, err := http.Get("http://" + e.Host + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	require.NoError(t, e.Stop())
	assert.ErrorIs(t, syscall.Kill(-pgid, 0), syscall.ESRCH, "process group %d still has members", pgid)
	_, err = http.Get("http://" + e.Host + "/")
	assert.Error(t, err)
}

func TestRestartKeepsAddress(t *testing.T) {
	e, err := Start(context.Background(), Firestore, "", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Stop() })
	host := e.Host
	e.Kill()
	_, err = http.Get("http://" + host + "/")
	require.Error(t, err, "killed emulator still answers")
	require.NoError(t, e.Restart(context.Background()))
	assert.Equal(t, host, e.Host)
	resp, err := http.Get("http://" + host + "/")
	require.NoError(t, err)
	resp.Body.Close()
}

func TestMissingSDKIsExplained(t *testing.T) {
	if os.Getenv("CLOUDSDK_ROOT_DIR") != "" {
		t.Setenv("CLOUDSDK_ROOT_DIR", "")
	}
	_, err := command(t.TempDir(), PubSub, "127.0.0.1", "1")
	require.ErrorIs(t, err, ErrMissing)
	assert.True(t, strings.Contains(err.Error(), "gcloud components install"))
	_, err = exec.LookPath("java")
	require.NoError(t, err, "java must be installed for the integration tests")
}
