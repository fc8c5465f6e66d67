//go:build integration

package stepup_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/iterator"

	"github.com/riskwire/didit-risk/emulator/diditsim"
	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/logging"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/queue"
	"github.com/riskwire/didit-risk/internal/scorer"
	"github.com/riskwire/didit-risk/internal/scoring"
	"github.com/riskwire/didit-risk/internal/stepup"
)

// published is a topic in memory, keeping attributes.
type published struct {
	mu    sync.Mutex
	msgs  []queue.Message
	total int
}

func (p *published) Publish(_ context.Context, data []byte, attrs map[string]string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total++
	p.msgs = append(p.msgs, queue.Message{ID: fmt.Sprint("fs-", p.total), Data: data, Attributes: attrs})
	return fmt.Sprint(p.total), nil
}

func (p *published) take() []queue.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.msgs
	p.msgs = nil
	return out
}

// faceWorld is the whole path on the emulators: the simulator's webhooks scored by the real
// scorer on the Firestore emulator, its decisions handled by the step-up service with Face
// Search on, the facts published back to the scorer.
type faceWorld struct {
	*env
	sc        *scorer.Handler
	decisions *capturedDecisions
	webhooks  *published // the webhooks topic the step-up function publishes to
	mu        sync.Mutex
	bodies    [][]byte
}

func newFaceWorld(t *testing.T) *faceWorld {
	e := newEnv(t, diditsim.Options{})
	w := &faceWorld{env: e, decisions: &capturedDecisions{}, webhooks: &published{}}
	receiver := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		w.bodies = append(w.bodies, b)
		w.mu.Unlock()
	}))
	t.Cleanup(receiver.Close)
	e.sim.SetWebhookURL(receiver.URL)
	w.sc = &scorer.Handler{
		Profiles: e.store, FaceSearches: e.store, Engine: profile.NewEvaluator(policy.Default()), Hash: scoring.NewHasher([]byte("k")),
		Decisions: w.decisions, Log: logging.New(e.logs, "json", "info"), Now: time.Now,
	}
	// An API call first, so the simulator knows its own address for the media links.
	_, err := e.client(apiKey).ListSessions(context.Background(), didit.SessionQuery{})
	require.NoError(t, err)
	return w
}

func (w *faceWorld) push(msg queue.Message) event.Event {
	ev := event.New()
	ev.SetID(msg.ID)
	ev.SetSource("test")
	ev.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	require.NoError(w.t, ev.SetData(event.ApplicationJSON, queue.MessagePublished{Message: msg}))
	return ev
}

// deliverWebhooks scores what the simulator sent and returns the decisions published.
func (w *faceWorld) deliverWebhooks() []message.Decision {
	w.mu.Lock()
	bodies := w.bodies
	w.bodies = nil
	w.mu.Unlock()
	for i, b := range bodies {
		require.NoError(w.t, w.sc.Handle(context.Background(), w.push(queue.Message{ID: fmt.Sprint("wh-", i), Data: b,
			Attributes: message.WebhookAttrs{Signature: "raw", Class: message.ClassSession, DecisionAuthenticated: true}.Attributes()})))
	}
	return w.decisions.take(w.t)
}

// deliverFaceSearches scores the Face Search messages published (each twice: at least once).
func (w *faceWorld) deliverFaceSearches() []message.Decision {
	for _, m := range w.webhooks.take() {
		for range 2 {
			require.NoError(w.t, w.sc.Handle(context.Background(), w.push(m)))
		}
	}
	return w.decisions.take(w.t)
}

func (w *faceWorld) searcher(searchType string) *stepup.Service {
	return w.service(func(s *stepup.Service) {
		s.FaceSearch = &stepup.FaceSearch{Didit: w.client(apiKey), Type: searchType, MinLevel: policy.High,
			MediaHosts: []string{strings.TrimPrefix(w.srv.URL, "http://")}, Publisher: w.webhooks}
	})
}

// decide completes a session of user with face img as Declined with every feature approved
// (didit_declined alone: a high verdict, review) and returns the decision the scorer published.
func (w *faceWorld) decide(user string, img []byte) (diditsim.Session, message.Decision) {
	ss := w.sim.AddSession(diditsim.Session{VendorData: user, WorkflowID: "wf-kyc", Status: "In Progress", FaceImage: img})
	_, err := w.sim.Complete(context.Background(), ss.ID, diditsim.Outcome{Status: diditsim.StatusDeclined, Features: []diditsim.FeatureResult{
		{Feature: diditsim.FeatureID, Status: diditsim.StatusApproved}, {Feature: diditsim.FeatureLiveness, Status: diditsim.StatusApproved},
		{Feature: diditsim.FeatureFaceMatch, Status: diditsim.StatusApproved}}})
	require.NoError(w.t, err)
	ds := w.deliverWebhooks()
	require.Len(w.t, ds, 1)
	require.Equal(w.t, ss.ID, ds[0].SessionID)
	return ss, ds[0]
}

func reasonRules(rs []profile.Reason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Rule)
	}
	return out
}

// A face shared by three other users raises the score (fraud-ring points), with one search
// per session however often the decision is delivered.
func TestFaceSearchFindsAFraudRing(t *testing.T) {
	w := newFaceWorld(t)
	img := diditsim.FaceImage("ring")
	ring := w.sim.SeedFraudRing(img, "ring-a", "ring-b", "ring-c")
	ss, d := w.decide(userID, img)
	require.Equal(t, policy.High, d.Level)
	before := d.Score

	svc := w.searcher(didit.SearchMostSimilar)
	for range 3 { // duplicate deliveries
		require.NoError(t, svc.HandleEvent(context.Background(), pubsubEvent(t, d)))
	}
	require.Len(t, w.sim.FaceSearches(), 1, "one Face Search for the session")
	call := w.sim.FaceSearches()[0]
	assert.False(t, call.SaveAPIRequest)
	assert.Equal(t, didit.SearchMostSimilar, call.SearchType)
	c := w.claim(ss.ID, stepup.KindFaceSearch(didit.SearchMostSimilar))
	assert.Equal(t, policy.StepCompleted, c.State, "searched and published")
	require.NotNil(t, c.FaceSearch)
	assert.Equal(t, int64(3), c.FaceSearch.OtherUsers, "the user's own session is not counted")

	ds := w.deliverFaceSearches()
	require.Len(t, ds, 2, "the re-scored verdict, announced again for the duplicate")
	after := ds[0]
	assert.Greater(t, after.Score, before, "the ring raises the score")
	assert.Contains(t, reasonRulesOf(after.Reasons), "face_search_fraud_ring")
	p, _, err := w.store.Get(context.Background(), userID)
	require.NoError(t, err)
	assert.Equal(t, after.Score, p.Score)
	assert.Contains(t, reasonRules(p.Reasons), "face_search_fraud_ring")

	// The re-scored decision comes back to the step-up function: no second search, no loop.
	require.NoError(t, svc.HandleEvent(context.Background(), pubsubEvent(t, after)))
	assert.Len(t, w.sim.FaceSearches(), 1)
	assert.Empty(t, w.webhooks.take(), "nothing published again")

	// The facts live on the session, so any later derivation lays them over its signals again.
	p, _, err = w.store.Get(context.Background(), userID)
	require.NoError(t, err)
	assert.Contains(t, p.Sessions[ss.ID].FaceSearch, didit.SearchMostSimilar)

	w.assertOnlyDerivedFacts(userID, ring)
}

func reasonRulesOf(rs []message.Reason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Rule)
	}
	return out
}

// A blocklisted face blocks the user, with the reason stored.
func TestFaceSearchBlocklistedFaceBlocks(t *testing.T) {
	w := newFaceWorld(t)
	img := diditsim.FaceImage("blocked")
	w.sim.SeedFace(img, diditsim.FaceRecord{Blocklisted: true})
	ss, d := w.decide(userID, img)
	require.NotEqual(t, policy.Block, d.Action)

	svc := w.searcher(didit.SearchBlocklistedOrApproved)
	require.NoError(t, svc.HandleEvent(context.Background(), pubsubEvent(t, d)))
	require.Len(t, w.sim.FaceSearches(), 1)
	ds := w.deliverFaceSearches()
	require.NotEmpty(t, ds)
	assert.Equal(t, policy.Block, ds[0].Action)

	p, _, err := w.store.Get(context.Background(), userID)
	require.NoError(t, err)
	assert.Equal(t, policy.Block, p.Action)
	assert.True(t, p.Blocked)
	assert.Contains(t, reasonRules(p.Reasons), "face_search_in_blocklist", "the reason is stored")
	assert.Equal(t, []string{didit.RiskFaceInBlocklist}, p.Sessions[ss.ID].FaceSearch[didit.SearchBlocklistedOrApproved].Codes)

	// The block decision: the search is done, so only the (disabled) blocklisting is left.
	require.NoError(t, svc.HandleEvent(context.Background(), pubsubEvent(t, ds[0])))
	assert.Len(t, w.sim.FaceSearches(), 1)
	w.assertOnlyDerivedFacts(userID, nil)
}

// A verdict below the minimum level, or an untrusted one, is not searched.
func TestFaceSearchOnlyAtTheLevel(t *testing.T) {
	w := newFaceWorld(t)
	svc := w.searcher(didit.SearchMostSimilar)
	d := decision("asm-low")
	d.Level, d.Action = policy.Medium, policy.Review
	require.NoError(t, svc.HandleEvent(context.Background(), pubsubEvent(t, d)))
	d = decision("asm-untrusted")
	d.Level, d.Action, d.DecisionTrusted = policy.Critical, policy.Review, false
	require.NoError(t, svc.HandleEvent(context.Background(), pubsubEvent(t, d)))
	assert.Empty(t, w.sim.FaceSearches())
	assert.Empty(t, w.webhooks.take())
}

// assertOnlyDerivedFacts searches every stored field of the user's profile, assessments,
// dedupe markers and claims for what the Face Search answer carries about other people.
func (w *faceWorld) assertOnlyDerivedFacts(user string, ring []diditsim.Session) {
	t := w.t
	ctx := context.Background()
	forbidden := []string{"Ana", "García", "X1234567K", "/media/", "http://", "https://", "X-Amz",
		strings.TrimPrefix(w.srv.URL, "http://"), "ring-a", "ring-b", "ring-c"}
	for _, s := range ring {
		forbidden = append(forbidden, s.ID)
	}
	var docs []*firestore.DocumentSnapshot
	pref := w.fs.Collection(profile.Profiles).Doc(user)
	snap, err := pref.Get(ctx)
	require.NoError(t, err)
	docs = append(docs, snap)
	for _, it := range []*firestore.DocumentIterator{
		pref.Collection(profile.Assessments).Documents(ctx), pref.Collection(profile.Processed).Documents(ctx),
		w.fs.Collection(stepup.ClaimsCollection).Documents(ctx),
	} {
		for {
			s, err := it.Next()
			if err == iterator.Done {
				break
			}
			require.NoError(t, err)
			docs = append(docs, s)
		}
	}
	require.Greater(t, len(docs), 3)
	fields := 0
	for _, d := range docs {
		walk(d.Data(), func(path, v string) {
			fields++
			for _, f := range forbidden {
				assert.NotContains(t, v, f, "%s %s", d.Ref.Path, path)
			}
		})
	}
	assert.Greater(t, fields, 100, "every field was searched")
}

// walk calls fn for every key and string value under v.
func walk(v any, fn func(path, s string)) {
	var rec func(p string, v any)
	rec = func(p string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				fn(p+"/"+k, k)
				rec(p+"/"+k, e)
			}
		case []any:
			for i, e := range x {
				rec(fmt.Sprint(p, "[", i, "]"), e)
			}
		case string:
			fn(p, x)
		default:
			fn(p, fmt.Sprint(x))
		}
	}
	rec("", v)
}
