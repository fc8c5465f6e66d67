//go:build integration

package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/diditsim"
	"github.com/riskwire/didit-risk/emulator/emulatortest"
	"github.com/riskwire/didit-risk/emulator/scenario"
	"github.com/riskwire/didit-risk/functions/scorer"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/queue"
	"github.com/riskwire/didit-risk/testdata"
)

// TestDeliveryChaos feeds the scorer every webhook of several users three times, in shuffled
// order, from concurrent workers (Pub/Sub delivers at least once and in no order; two of the
// copies share a message id, as a redelivery does, the third has its own, as a Didit retry
// re-published by the receiver does), and compares the final profiles with those of a clean,
// in-order, once-each run into another project.
//
// Each user has several sessions moving In Progress → Approved or Declined → data.updated, one
// of them re-reviewed from Approved to Declined. The scorer is called directly (functions/scorer.New,
// the same handler the push reaches), so the order is exactly the shuffled one.
//
// Profiles must be equal field by field, except: wall-clock timestamps of processing
// (created_at, updated_at); and the three fields that count processing rather than describe
// the user — events_applied, assessments_total, last_assessment_id. These depend on order by
// design: a webhook older than what a session already shows is recorded as stale, not applied.
// For them the test asserts what must hold in any order instead: events_applied equals the
// events the chaos run recorded as applied, assessments_total its assessments, and the
// last assessment carries the profile's verdict.
//
// FAULTS_SEED=n replays a given shuffle.
func TestDeliveryChaos(t *testing.T) {
	ctx := context.Background()
	b, err := scenario.NewBuilder(testdata.Dir(t, "webhooks"))
	require.NoError(t, err)
	events := chaosEvents(t, b)

	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FAULTS_SEED"); s != "" {
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
	}
	t.Logf("%d events of %d users; shuffle seed %d (FAULTS_SEED to replay)", len(events), chaosUsers, seed)

	clean := newDirectScorer(t, "clean")
	for i, e := range events {
		require.NoError(t, clean.deliver(ctx, e, fmt.Sprintf("m%d", i)), "clean run, event %s", e.EventID)
	}

	chaos := newDirectScorer(t, "chaos")
	type copyOf struct {
		event     hook
		messageID string
	}
	var queueOf []copyOf
	for i, e := range events {
		id := fmt.Sprintf("m%d", i)
		queueOf = append(queueOf, copyOf{e, id}, copyOf{e, id}, copyOf{e, id + "-republished"})
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	rng.Shuffle(len(queueOf), func(i, j int) { queueOf[i], queueOf[j] = queueOf[j], queueOf[i] })

	// Four workers take copies in the shuffled order; a copy the scorer refuses (a contended
	// transaction) goes back into the queue at a random later place, as a redelivery would.
	var (
		mu       sync.Mutex
		attempts int
		retried  int
		wg       sync.WaitGroup
		failures []error
	)
	next := func() (copyOf, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(queueOf) == 0 {
			return copyOf{}, false
		}
		c := queueOf[0]
		queueOf = queueOf[1:]
		attempts++
		return c, true
	}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tries := map[string]int{}
			for {
				c, ok := next()
				if !ok {
					return
				}
				if err := chaos.deliver(ctx, c.event, c.messageID); err != nil {
					mu.Lock()
					retried++
					if tries[c.messageID]++; tries[c.messageID] > 20 {
						failures = append(failures, fmt.Errorf("%s: %w", c.event.EventID, err))
					} else {
						at := rng.IntN(len(queueOf) + 1)
						queueOf = slices.Insert(queueOf, at, c)
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	require.Empty(t, failures)
	t.Logf("chaos run: %d deliveries of %d events (%d refused and redelivered)", attempts, len(events), retried)

	for u := range chaosUsers {
		user := fmt.Sprintf("chaos-user-%d", u)
		t.Run(user, func(t *testing.T) {
			want, found, err := readProfile(ctx, clean.fs, user)
			require.NoError(t, err)
			require.True(t, found)
			got, found, err := readProfile(ctx, chaos.fs, user)
			require.NoError(t, err)
			require.True(t, found)

			// What any order must still get exactly right about the counters.
			applied, assessments := chaos.applied(ctx, t, user)
			assert.Equal(t, applied, got.EventsApplied, "events_applied counts the applied events, duplicates and stale ones excluded")
			assert.Equal(t, assessments, got.AssessmentsTotal, "assessments_total counts the assessments written")
			last := chaos.assessment(ctx, t, user, got.LastAssessmentID)
			assert.Equal(t, []any{got.Score, got.Level, got.Action, got.LastSessionID}, []any{last.Score, last.Level, last.Action, last.VerdictSession},
				"the last assessment carries the profile's verdict")
			markers, err := docIDs(ctx, chaos.fs, user, profile.Processed)
			require.NoError(t, err)
			assert.Len(t, markers, eventsOf(events, user), "every event processed once: one marker each")

			// The verdict and the facts it is derived from.
			assert.Equal(t, comparable(want), comparable(got), "final profile differs from the clean in-order run's")

			// Two fields kept apart so that a failure names them: both are order-dependent today.
			// review_state opens whenever an intermediate verdict was "review", and which
			// intermediate verdicts get computed depends on arrival order; sessions.*.first_seen
			// is the time of the first event *applied*, so an In Progress webhook arriving after
			// the decision (and recorded stale) never lowers it — and first_seen feeds the
			// 24 h / 30 d history windows of the score.
			assert.Equal(t, want.ReviewState, got.ReviewState, "review_state depends on delivery order")
			for id, ws := range want.Sessions {
				assert.Equal(t, ws.FirstSeen, got.Sessions[id].FirstSeen, "sessions.%s.first_seen depends on delivery order", id)
			}
		})
	}
}

const chaosUsers = 4

// chaosEvents returns the events of every user in the clean, chronological order: per session
// In Progress, then the decision, then a data.updated; one session in three is then
// re-reviewed from Approved to Declined.
func chaosEvents(t *testing.T, b *scenario.Builder) []hook {
	t.Helper()
	base := time.Now().Add(-6 * time.Hour).Truncate(time.Second)
	finals := []scenario.Kind{scenario.Clean, scenario.Review, scenario.Risky}
	var events []hook
	for s := range 3 {
		for u := range chaosUsers {
			user, session := fmt.Sprintf("chaos-user-%d", u), fmt.Sprintf("chaos-u%d-s%d", u, s)
			start := base.Add(time.Duration(s*20+u) * time.Minute)
			final := finals[(u+s)%len(finals)]
			add := func(k scenario.Kind, step int, edit func(map[string]any)) {
				id := fmt.Sprintf("%s-e%d", session, step)
				body, err := b.Webhook(k, user, session, id, start.Add(time.Duration(step)*time.Minute))
				require.NoError(t, err)
				if edit != nil {
					body = editBody(t, body, edit)
				}
				events = append(events, hook{User: user, Session: session, EventID: id, Kind: k, At: start.Add(time.Duration(step) * time.Minute), Body: body})
			}
			add(scenario.Start, 0, nil)
			add(final, 1, nil)
			add(final, 2, func(m map[string]any) { m["webhook_type"] = "data.updated" })
			if final == scenario.Clean && s == 1 {
				// Re-reviewed: the same session, document and device, now Declined.
				add(final, 3, func(m map[string]any) {
					m["status"] = "Declined"
					m["decision"].(map[string]any)["status"] = "Declined"
				})
			}
		}
	}
	slices.SortStableFunc(events, func(a, b hook) int { return a.At.Compare(b.At) })
	return events
}

func eventsOf(events []hook, user string) int {
	n := 0
	for _, e := range events {
		if e.User == user {
			n++
		}
	}
	return n
}

// editBody rewrites a webhook body, keeping Didit's serialisation.
func editBody(t *testing.T, body []byte, edit func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&m))
	edit(m)
	out, err := diditsim.Marshal(m)
	require.NoError(t, err)
	return out
}

// comparable strips a profile of what legitimately differs between two runs of the same
// events — processing timestamps, the processing counters, the order of hash sets — and of the
// two fields the test compares separately.
func comparable(p profile.Profile) profile.Profile {
	p.CreatedAt, p.UpdatedAt = time.Time{}, time.Time{}
	p.EventsApplied, p.AssessmentsTotal, p.LastAssessmentID = 0, 0, ""
	p.ReviewState = "" // compared on its own
	sessions := map[string]profile.SessionState{}
	for id, s := range p.Sessions {
		s.UpdatedAt = time.Time{}
		s.FirstSeen = time.Time{} // compared on its own
		sessions[id] = s
	}
	p.Sessions = sessions
	steps := map[string]profile.StepUp{}
	for k, s := range p.StepUps {
		s.CreatedAt, s.UpdatedAt = time.Time{}, time.Time{}
		steps[k] = s
	}
	p.StepUps = steps
	p.DocumentHashes = slices.Sorted(slices.Values(p.DocumentHashes))
	p.DeviceHashes = slices.Sorted(slices.Values(p.DeviceHashes))
	return p
}

// directScorer is the scorer function of its own project, called without Pub/Sub.
type directScorer struct {
	project string
	fn      func(context.Context, event.Event) error
	fs      *firestore.Client
}

func newDirectScorer(t *testing.T, name string) *directScorer {
	t.Helper()
	ctx := context.Background()
	proj := project(t) + "-" + name
	ps := emulatortest.PubSub(t, proj)
	_, err := ps.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + proj + "/topics/" + testTopology().Decisions})
	require.NoError(t, err)
	fs := emulatortest.Firestore(t, proj)
	cfg := map[string]string{"GOOGLE_CLOUD_PROJECT": proj, "HASH_KEY": hashKey, "LOG_FORMAT": "json"}
	fn, closeFn, err := scorer.New(ctx, func(k string) string { return cfg[k] }, io.Discard)
	require.NoError(t, err)
	t.Cleanup(closeFn)
	return &directScorer{project: proj, fn: fn, fs: fs}
}

// deliver hands the scorer one message as a push would: the webhook body with the attributes
// the receiver sets.
func (s *directScorer) deliver(ctx context.Context, h hook, messageID string) error {
	var env struct {
		Status      string `json:"status"`
		WebhookType string `json:"webhook_type"`
	}
	if err := json.Unmarshal(h.Body, &env); err != nil {
		return err
	}
	data, err := json.Marshal(queue.MessagePublished{
		Message: queue.Message{Data: h.Body, ID: messageID, PublishTime: time.Now(), Attributes: message.WebhookAttrs{
			EventKey: h.EventID, SessionID: h.Session, VendorData: h.User, Status: env.Status,
			WebhookType: env.WebhookType, Signature: "raw", Class: message.ClassSession, DecisionAuthenticated: true,
		}.Attributes()},
		Subscription: "projects/" + s.project + "/subscriptions/scorer-push",
	})
	if err != nil {
		return err
	}
	e := event.New()
	e.SetID(messageID)
	e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	e.SetSource("//pubsub.googleapis.com/projects/" + s.project + "/topics/" + testTopology().Webhooks)
	if err := e.SetData(event.ApplicationJSON, data); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return s.fn(ctx, e)
}

// applied counts a user's events recorded as applied, and the assessments written.
func (s *directScorer) applied(ctx context.Context, t *testing.T, user string) (events, assessments int) {
	t.Helper()
	ref := s.fs.Collection(profile.Profiles).Doc(profile.DocID(user, ""))
	snaps, err := ref.Collection(profile.Processed).Documents(ctx).GetAll()
	require.NoError(t, err)
	for _, snap := range snaps {
		if snap.Data()["outcome"] == profile.Applied.String() {
			events++
		}
	}
	as, err := ref.Collection(profile.Assessments).Documents(ctx).GetAll()
	require.NoError(t, err)
	return events, len(as)
}

func (s *directScorer) assessment(ctx context.Context, t *testing.T, user, id string) profile.Assessment {
	t.Helper()
	var a profile.Assessment
	snap, err := s.fs.Collection(profile.Profiles).Doc(profile.DocID(user, "")).Collection(profile.Assessments).Doc(profile.DocID(id, "")).Get(ctx)
	require.NoError(t, err, "last assessment %s", id)
	require.NoError(t, snap.DataTo(&a))
	return a
}
