package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuf is a log sink written by run's goroutine and read by the test.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuf{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-sandbox-quota", "1"}, func(string) string { return "" }, out)
	}()
	// The log line carries the URL; poll until it appears.
	var url string
	require.Eventually(t, func() bool {
		s := out.String()
		if i := strings.Index(s, "url=http://"); i >= 0 {
			url = strings.Fields(s[i+len("url="):])[0]
			return true
		}
		return false
	}, 5*time.Second, 10*time.Millisecond)

	resp, err := http.Get(url + "/_sim/stats")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// The flags reach the simulator: one session, then the sandbox quota answers.
	var codes []int
	for _, user := range []string{"a", "b"} {
		req, err := http.NewRequest(http.MethodPost, url+"/v3/session/", strings.NewReader(`{"workflow_id":"wf","vendor_data":"`+user+`"}`))
		require.NoError(t, err)
		req.Header.Set("x-api-key", "any")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	assert.Equal(t, []int{http.StatusCreated, http.StatusTooManyRequests}, codes)

	// The console reviewer is on the admin surface.
	resp, err = http.Post(url+"/_sim/sessions/unknown/review", "application/json", strings.NewReader(`{"new_status":"Approved"}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	cancel()
	require.NoError(t, <-done)
}
