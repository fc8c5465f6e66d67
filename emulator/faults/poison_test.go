//go:build integration

package faults

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/emulatortest"
	"github.com/riskwire/didit-risk/emulator/scenario"
	"github.com/riskwire/didit-risk/internal/message"
)

// TestPoisonMessageIsDeadLettered publishes messages the scorer can never process straight onto
// the webhooks topic (as a buggy producer or a hand-made publish would; the receiver refuses
// such bodies itself), then a good webhook through the receiver. The scorer must log each
// attempt at ERROR and return an error, so that Pub/Sub retries it MaxDeliveryAttempts times and
// then moves it to the dead-letter topic, where an operator can inspect and replay it; meanwhile
// the good webhook must be scored without waiting for the poison to clear.
func TestPoisonMessageIsDeadLettered(t *testing.T) {
	p := newPipeline(t, pipelineOptions{})
	ctx := context.Background()
	maxAttempts := int(p.topo.MaxDeliveryAttempts)

	// One poison at a time: the emulator's redelivery of several failing messages at once
	// stalls for minutes after a few attempts (real Pub/Sub does not); the other undecodable
	// shapes are refused the same way (internal/scorer tests).
	poisons := map[string][]byte{
		"JSON without a session": []byte(`{"webhook_type":"status.updated","status":"Approved","timestamp":1767224012}`),
	}
	pub := p.ps.Publisher(p.topo.Webhooks)
	names := map[string]string{} // message id → poison
	for name, data := range poisons {
		id, err := pub.Publish(ctx, &pubsub.Message{Data: data}).Get(ctx)
		require.NoError(t, err)
		names[id] = name
	}
	pub.Stop()

	good := p.hook(scenario.Clean, "poison-good-user", "poison-good-session", "poison-good-event", time.Now())
	require.Equal(t, http.StatusOK, p.send(ctx, good))
	waitFor(t, "the good webhook's assessment", 30*time.Second, func() (bool, error) { return hasAssessment(ctx, p.fs, good) })

	dead := emulatortest.Pull(t, p.ps, p.topo.WebhooksDLQPull, len(poisons), 60*time.Second)
	require.Len(t, dead, len(poisons), "every poison message reaches the dead-letter topic")
	for _, m := range dead {
		// The dead-letter copy is a new message; its body is the poison's, byte for byte.
		var name string
		for n, data := range poisons {
			if string(data) == string(m.Data) {
				name = n
			}
		}
		require.NotEmpty(t, name, "unexpected dead letter %q", m.Data)
		assert.Equal(t, strconv.Itoa(maxAttempts), m.Attributes["CloudPubSubDeadLetterSourceDeliveryCount"], "%s: dead-lettered after the configured attempts", name)
		assert.Equal(t, p.topo.ScorerPush, m.Attributes["CloudPubSubDeadLetterSourceSubscription"], name)
	}

	for id, name := range names {
		t.Run(name, func(t *testing.T) {
			ds := p.pushes.Filter(func(d delivery) bool { return d.MessageID == id })
			require.Len(t, ds, maxAttempts, "delivered exactly MaxDeliveryAttempts times before dead-lettering")
			for i, d := range ds {
				assert.Equal(t, http.StatusInternalServerError, d.Status, "attempt %d must be refused (retry), never acked", i+1)
				if d.Attempt != 0 { // real Pub/Sub sends deliveryAttempt with a dead-letter policy; the emulator does not
					assert.Equal(t, i+1, d.Attempt, "deliveryAttempt of push %d", i+1)
				}
				if i > 0 {
					t.Logf("attempt %d after %s", i+1, d.Start.Sub(ds[i-1].Start).Round(10*time.Millisecond))
				}
			}
			errs := p.logs.Entries(msg("webhook cannot be processed", "message_id", id, "severity", "ERROR"))
			assert.Len(t, errs, maxAttempts, "one ERROR line per attempt")
			if len(errs) > 0 {
				assert.Equal(t, "invalid", errs[0]["kind"])
			}
		})
	}

	// The good webhook flowed past the poison: pushed once, acked at once, and pushed while the
	// poison was still being retried rather than after it cleared (no head-of-line blocking).
	goodPushes := p.pushes.Filter(func(d delivery) bool { return d.Attrs[message.AttrEventID] == good.EventID })
	require.Len(t, goodPushes, 1)
	assert.Equal(t, http.StatusNoContent, goodPushes[0].Status)
	for id, name := range names {
		ds := p.pushes.Filter(func(d delivery) bool { return d.MessageID == id })
		require.NotEmpty(t, ds)
		assert.True(t, goodPushes[0].Start.Before(ds[len(ds)-1].Start),
			"%s: the good webhook reached the scorer only after the poison's last attempt", name)
	}
}
