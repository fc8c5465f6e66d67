package operator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator"
	"github.com/riskwire/didit-risk/internal/queue"
)

// fakeSubs is a set of pull subscriptions in memory; log records every call in order.
type fakeSubs struct {
	msgs   map[string][]queue.Message // by subscription
	leased map[string]bool            // ack id = sub/message id
	acked  map[string]bool
	log    *[]string
	maxPer int // at most this many per pull (0: no bound)
}

func (f *fakeSubs) Pull(_ context.Context, sub string, max int) ([]queue.Leased, error) {
	*f.log = append(*f.log, "pull "+sub)
	var out []queue.Leased
	for _, m := range f.msgs[sub] {
		ack := sub + "/" + m.ID
		if f.leased[ack] || f.acked[ack] || len(out) == max || (f.maxPer > 0 && len(out) == f.maxPer) {
			continue
		}
		f.leased[ack] = true
		out = append(out, queue.Leased{AckID: ack, Message: m})
	}
	return out, nil
}

func (f *fakeSubs) Ack(_ context.Context, sub string, ids []string) error {
	for _, id := range ids {
		*f.log = append(*f.log, "ack "+id)
		f.acked[id], f.leased[id] = true, false
	}
	return nil
}

func (f *fakeSubs) Release(_ context.Context, sub string, ids []string) error {
	for _, id := range ids {
		*f.log = append(*f.log, "release "+id)
		f.leased[id] = false
	}
	return nil
}

func (f *fakeSubs) remaining(sub string) []string {
	var out []string
	for _, m := range f.msgs[sub] {
		if !f.acked[sub+"/"+m.ID] {
			out = append(out, m.ID)
		}
	}
	return out
}

// logTopics publishes into the shared log, then into per-topic recorders.
type logTopics struct {
	log  *[]string
	pubs map[string]*fakePublisher
	fail map[string]bool // message data that fails to publish
}

func (t *logTopics) Topic(id string) queue.Publisher {
	if t.pubs[id] == nil {
		t.pubs[id] = &fakePublisher{}
	}
	return publishFunc(func(ctx context.Context, data []byte, attrs map[string]string) (string, error) {
		if t.fail[string(data)] {
			return "", errors.New("publish refused")
		}
		*t.log = append(*t.log, "publish "+id+" "+string(data))
		return t.pubs[id].Publish(ctx, data, attrs)
	})
}

type publishFunc func(context.Context, []byte, map[string]string) (string, error)

func (f publishFunc) Publish(ctx context.Context, d []byte, a map[string]string) (string, error) {
	return f(ctx, d, a)
}

var topo = emulator.DefaultTopology()

func webhookAttrs(n int) map[string]string {
	return map[string]string{"message_type": "webhook", "event_class": "session", "decision_authenticated": "true",
		"event_id": fmt.Sprint("ev-", n), "session_id": fmt.Sprint("s-", n), "CloudPubSubDeadLetterSourceDeliveryCount": "5"}
}

func deadLetters() (*DeadLetters, *fakeSubs, *logTopics, *[]string) {
	log := &[]string{}
	subs := &fakeSubs{msgs: map[string][]queue.Message{}, leased: map[string]bool{}, acked: map[string]bool{}, log: log}
	for i := 1; i <= 3; i++ {
		subs.msgs[topo.WebhooksDLQPull] = append(subs.msgs[topo.WebhooksDLQPull], queue.Message{ID: fmt.Sprint("w", i),
			Data: []byte(fmt.Sprintf(`{"webhook":%d,"email":"personal@example.com"}`, i)), Attributes: webhookAttrs(i), PublishTime: t0})
	}
	subs.msgs[topo.DecisionsDLQPull] = []queue.Message{{ID: "d1", Data: []byte(`{"decision":1}`), Attributes: map[string]string{"message_type": "decision", "action": "block"}, PublishTime: t0}}
	tp := &logTopics{log: log, pubs: map[string]*fakePublisher{}, fail: map[string]bool{}}
	return &DeadLetters{Subs: subs, Topics: tp, Queues: topo.DeadLetters()}, subs, tp, log
}

func TestDLQList(t *testing.T) {
	for _, c := range []struct {
		name     string
		sub      string
		limit    int
		data     bool
		maxPer   int
		wantIDs  []string
		wantData bool
	}{
		{name: "every queue", limit: 10, wantIDs: []string{"w1", "w2", "w3", "d1"}},
		{name: "one queue by subscription", sub: topo.DecisionsDLQPull, limit: 10, wantIDs: []string{"d1"}},
		{name: "one queue by topic", sub: topo.WebhooksDLQ, limit: 10, wantIDs: []string{"w1", "w2", "w3"}},
		{name: "limit", sub: topo.WebhooksDLQPull, limit: 2, wantIDs: []string{"w1", "w2"}},
		{name: "several pulls", sub: topo.WebhooksDLQPull, limit: 10, maxPer: 1, wantIDs: []string{"w1", "w2", "w3"}},
		{name: "with data", sub: topo.WebhooksDLQPull, limit: 1, data: true, wantIDs: []string{"w1"}, wantData: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dl, subs, _, _ := deadLetters()
			subs.maxPer = c.maxPer
			got, err := dl.List(context.Background(), c.sub, c.limit, c.data)
			require.NoError(t, err)
			var ids []string
			for _, m := range got {
				ids = append(ids, m.ID)
			}
			assert.Equal(t, c.wantIDs, ids)
			for _, m := range got {
				src := subs.msgs[m.Subscription]
				var orig queue.Message
				for _, o := range src {
					if o.ID == m.ID {
						orig = o
					}
				}
				assert.Equal(t, orig.Attributes, m.Attributes, "every attribute")
				sum := sha256.Sum256(orig.Data)
				assert.Equal(t, hex.EncodeToString(sum[:]), m.Digest)
				assert.Equal(t, len(orig.Data), m.Size)
				if c.wantData {
					assert.Equal(t, orig.Data, m.Data)
				} else {
					assert.Nil(t, m.Data)
				}
			}
			// nothing consumed, nothing left leased
			assert.Len(t, subs.remaining(topo.WebhooksDLQPull), 3)
			for ack, l := range subs.leased {
				assert.False(t, l, ack)
			}
			var out bytes.Buffer
			require.NoError(t, writeDead(&out, got, c.data))
			assert.Equal(t, c.wantData, strings.Contains(out.String(), "personal@example.com"), "data printed only with -data")
			if len(got) > 0 && got[0].Subscription == topo.WebhooksDLQPull {
				assert.Contains(t, out.String(), "  decision_authenticated=true\n")
				assert.Contains(t, out.String(), "  CloudPubSubDeadLetterSourceDeliveryCount=5\n")
			}
		})
	}
	dl, _, _, _ := deadLetters()
	_, err := dl.List(context.Background(), "nope", 1, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), topo.WebhooksDLQPull)
}

func TestDLQReplay(t *testing.T) {
	for _, c := range []struct {
		name      string
		sub       string
		ids       []string
		all       bool
		fail      string // data of a message whose publish fails
		want      []string
		remaining []string // on the webhooks DLQ after
		missing   []string
		err       string
	}{
		{name: "by id", ids: []string{"w2"}, want: []string{"w2"}, remaining: []string{"w1", "w3"}},
		{name: "by ids across queues", ids: []string{"d1", "w3"}, want: []string{"w3", "d1"}, remaining: []string{"w1", "w2"}},
		{name: "all of one queue", sub: topo.WebhooksDLQPull, all: true, want: []string{"w1", "w2", "w3"}},
		{name: "unknown id", ids: []string{"w1", "zz"}, want: []string{"w1"}, remaining: []string{"w2", "w3"}, missing: []string{"zz"}},
		{name: "publish fails: left on the queue", sub: topo.WebhooksDLQPull, all: true, fail: `{"webhook":2,"email":"personal@example.com"}`,
			want: []string{"w1"}, remaining: []string{"w2", "w3"}, err: "publish refused"},
		{name: "neither ids nor all", remaining: []string{"w1", "w2", "w3"}, err: "-ids"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dl, subs, tp, log := deadLetters()
			if c.fail != "" {
				tp.fail[c.fail] = true
			}
			rep, err := dl.Replay(context.Background(), c.sub, c.ids, c.all, 10)
			if c.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.err)
			} else {
				require.NoError(t, err)
			}
			var got []string
			for _, r := range rep.Replayed {
				got = append(got, r.ID)
				src := topo.Webhooks
				if strings.HasPrefix(r.ID, "d") {
					src = topo.Decisions
				}
				assert.Equal(t, src, r.Topic, "back to the topic it was dead-lettered from")
				// published before acked
				pub := indexOf(*log, "publish "+src+" ")
				ack := indexOf(*log, "ack "+r.Subscription+"/"+r.ID)
				assert.True(t, pub >= 0 && ack > pub, "ack after publish: %v", *log)
			}
			assert.Equal(t, c.want, got)
			assert.Equal(t, c.remaining, subs.remaining(topo.WebhooksDLQPull))
			assert.Equal(t, c.missing, rep.Missing)
			// data and every attribute unchanged
			for _, s := range tp.pubs[topo.Webhooks].sentOrNil() {
				var n int
				_, _ = fmt.Sscanf(string(s.data), `{"webhook":%d`, &n)
				assert.Equal(t, webhookAttrs(n), s.attrs)
				assert.Equal(t, fmt.Sprintf(`{"webhook":%d,"email":"personal@example.com"}`, n), string(s.data))
			}
			for ack, l := range subs.leased {
				assert.False(t, l, "left leased: %s", ack)
			}
		})
	}
}

func (p *fakePublisher) sentOrNil() []sent {
	if p == nil {
		return nil
	}
	return p.sent
}

func indexOf(log []string, prefix string) int {
	for i, l := range log {
		if strings.HasPrefix(l, prefix) {
			return i
		}
	}
	return -1
}
