package receiver

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/riskwire/didit-risk/internal/config"
	"github.com/riskwire/didit-risk/internal/logging"
	"github.com/riskwire/didit-risk/internal/queue"
	"github.com/riskwire/didit-risk/internal/webhook"
	"github.com/riskwire/didit-risk/testdata"
)

// BenchmarkHandler measures one webhook through the whole receiver: read, verify (raw
// signature), decode the envelope, publish to an in-process Pub/Sub (pstest) and wait for the
// confirmation, log. Parallel, as Cloud Run serves many requests per instance.
func BenchmarkHandler(b *testing.B) {
	for _, scheme := range []string{"raw", "v2"} {
		b.Run(scheme, func(b *testing.B) {
			srv := pstest.NewServer()
			defer srv.Close()
			ctx := context.Background()
			conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			require.NoError(b, err)
			c, err := pubsub.NewClient(ctx, "p", option.WithGRPCConn(conn))
			require.NoError(b, err)
			defer c.Close()
			_, err = c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/p/topics/t"})
			require.NoError(b, err)
			topic := queue.NewTopic(c, "t", 5*time.Second)
			defer topic.Stop()

			v, err := webhook.NewVerifier(webhook.Config{Secrets: [][]byte{[]byte(secret)}})
			require.NoError(b, err)
			h := &Handler{Verify: v, Publisher: topic, Log: logging.New(io.Discard, "json", "info"),
				Now: time.Now, MaxBodyBytes: 2 << 20}

			body := testdata.Read(b, "webhooks/full_v3.json")
			hdr := http.Header{}
			hdr.Set("X-Timestamp", strconv.FormatInt(time.Now().Unix(), 10))
			if scheme == "raw" {
				hdr.Set("X-Signature", webhook.Sign([]byte(secret), body))
			} else {
				canon, err := webhook.Canonicalize(nil, body)
				require.NoError(b, err)
				hdr.Set("X-Signature-V2", webhook.Sign([]byte(secret), canon))
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			b.SetParallelism(32) // many requests in flight per instance, as under load
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
					r.Header = hdr
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
			b.StopTimer()
			srv.ClearMessages() // pstest keeps every message: free them between runs
		})
	}
}

// BenchmarkForgedV2AtDefaultLimit is the cost of refusing a forged request that passes every
// header check (fresh X-Timestamp, a 64-hex X-Signature-V2 that is wrong) with a body of the
// full default limit, so that it must be read and canonicalised before it can be refused.
// Bodies: Didit-like content, and the worst shapes for the canonicaliser (floats it must
// rewrite, unsorted keys it must sort).
func BenchmarkForgedV2AtDefaultLimit(b *testing.B) {
	limit := int(config.DefaultMaxBodyBytes)
	fill := func(prefix, item, sep, suffix string) []byte {
		var buf bytes.Buffer
		buf.WriteString(prefix)
		for buf.Len()+len(item)+len(sep)+len(suffix) <= limit {
			if buf.Len() > len(prefix) {
				buf.WriteString(sep)
			}
			buf.WriteString(item)
		}
		buf.WriteString(suffix)
		for buf.Len() < limit { // whitespace up to the exact limit
			buf.WriteByte(' ')
		}
		return buf.Bytes()
	}
	full := testdata.Read(b, "webhooks/full_v3.json")
	bodies := map[string][]byte{
		"didit-like":      fill(`{"copies":[`, string(full), ",", `]}`),
		"floats":          fill(`{"a":[`, "1.10", ",", `]}`),
		"unsorted-keys":   fill(`[`, `{"b":1,"a":2}`, ",", `]`),
		"escaped-strings": fill(`{"a":[`, `"\u00e9\u00e8\/"`, ",", `]}`),
	}
	for name, body := range bodies {
		b.Run(name, func(b *testing.B) {
			if len(body) != limit {
				b.Fatalf("body of %d bytes, want %d", len(body), limit)
			}
			v, err := webhook.NewVerifier(webhook.Config{Secrets: [][]byte{[]byte(secret)}})
			require.NoError(b, err)
			h := &Handler{Verify: v, Publisher: &fakePublisher{}, Log: logging.New(io.Discard, "json", "info"),
				Now: time.Now, MaxBodyBytes: config.DefaultMaxBodyBytes}
			hdr := http.Header{}
			hdr.Set("X-Signature-V2", webhook.Sign([]byte("not the secret"), body))
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				hdr.Set("X-Timestamp", strconv.FormatInt(time.Now().Unix(), 10))
				r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
				r.Header = hdr
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusUnauthorized {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
