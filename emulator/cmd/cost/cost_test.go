package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.md")

// known is an input whose every line can be priced by hand.
func known() (Inputs, Prices) {
	in := Inputs{
		Receiver:    Fn{Name: "receiver", CPU: time.Millisecond, MemoryGiB: 1, Share: 1},
		Scorer:      Fn{Name: "scorer", CPU: 10 * time.Millisecond, MemoryGiB: 0.5, Share: 1},
		StepUp:      Fn{Name: "step-up", CPU: 4 * time.Millisecond, MemoryGiB: 0.25, Share: 0.5},
		Utilisation: 0.5, WebhookBytes: 2000, WebhookDeliveries: 2, DecisionBytes: 100, DecisionDeliveries: 1,
		Reads: 3, Writes: 2, Deletes: 1, StoredBytes: 1 << 20, RetentionMonths: 2,
		StartsPerMillion: 1000, SecretsPerStart: 2, WebhooksPerVerification: 4, DiditPrice: 0.5,
	}
	p := ListPrices()
	p.RunVCPUSecond, p.RunGiBSecond, p.RunRequest = 1e-5, 1e-6, 1e-7
	p.PubSubTiB, p.PubSubMinBytes = 1<<40/1e9, 1000                                      // $1 per 1e9 bytes: $1e-9 a byte
	p.FSRead, p.FSWrite, p.FSDelete, p.FSGiBMonth = 1e-6, 2e-6, 3e-7, 1<<30/(1<<20)*1e-6 // $1e-6 per MiB-month
	p.SecretAccess = 1e-4
	return in, p
}

func TestCompute(t *testing.T) {
	in, p := known()
	got := map[string]float64{}
	for _, l := range Compute(in, p) {
		got[l.Item] = l.USD
	}
	for _, tc := range []struct {
		item string
		want float64 // per million webhooks, by hand
	}{
		// 1 ms / 0.5 utilisation = 2 ms billed; ×1e6 = 2,000 vCPU-s × $1e-5.
		{"Cloud Run receiver: vCPU", 0.02},
		{"Cloud Run receiver: memory", 2000 * 1 * 1e-6},
		{"Cloud Run receiver: requests", 0.1},
		// 10 ms / 0.5 = 20 ms; 20,000 s × $1e-5; memory 20,000 × 0.5 GiB × $1e-6.
		{"Cloud Run scorer: vCPU", 0.2},
		{"Cloud Run scorer: memory", 0.01},
		// 4 ms × 0.5 share / 0.5 = 4 ms; 4,000 s.
		{"Cloud Run step-up: vCPU", 0.04},
		{"Cloud Run step-up: memory", 4000 * 0.25 * 1e-6},
		{"Cloud Run step-up: requests", 0.05},
		// 2,000 B × 3 + (100 → 1,000 B minimum) × 2 = 8,000 B per webhook; 8e9 B × $1e-9.
		{"Pub/Sub throughput", 8},
		{"Firestore reads", 3},
		{"Firestore writes", 4},
		{"Firestore deletes (TTL)", 0.3},
		// 1 MiB × 1e6 webhooks × 2 months × $1e-6 per MiB-month.
		{"Firestore storage, kept 2 months", 2},
		// 1,000 starts × 2 secrets × $1e-4.
		{"Secret Manager accesses (per instance start)", 0.2},
	} {
		t.Run(tc.item, func(t *testing.T) {
			require.Contains(t, got, tc.item)
			assert.InDelta(t, tc.want, got[tc.item], 1e-9)
		})
	}
	assert.InDelta(t, 0.02+0.002+0.1+0.2+0.01+0.1+0.04+0.001+0.05+8+3+4+0.3+2+0.2, Total(Compute(in, p)), 1e-9)
}

// TestRenderGolden pins the whole table for the known input (go test -run Golden -update rewrites it).
func TestRenderGolden(t *testing.T) {
	in, p := known()
	got := Render(in, p, Compute(in, p))
	path := filepath.Join("testdata", "golden.md")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o600))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(want), got)
	// $18.023 per million webhooks × 4 webhooks = $0.000072092 per verification, of $0.50.
	assert.Contains(t, got, "| **total** | | **$18.02** |")
	assert.Contains(t, got, "0.01 % of Didit's price")
}

func TestRunFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
		err  string
	}{
		{"defaults price the README's inputs", nil, "| Cloud Run scorer: vCPU | 3.5 vCPU-ms |", ""},
		{"a flag overrides a measured figure", []string{"-scorer-cpu", "7ms"}, "| Cloud Run scorer: vCPU | 7 vCPU-ms |", ""},
		{"utilisation scales billed time", []string{"-utilisation", "0.25"}, "| Cloud Run receiver: vCPU | 0.92 vCPU-ms |", ""},
		{"Didit's price gives the share", []string{"-didit-price", "0.3"}, "of Didit's price", ""},
		{"utilisation above 1 is refused", []string{"-utilisation", "2"}, "", "utilisation"},
		{"negative inputs are refused", []string{"-fs-reads", "-1"}, "", "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(tc.args, &out, &errOut)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Contains(t, out.String(), tc.want)
		})
	}
}
