package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/riskwire/didit-risk/internal/config"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
)

// memStore is a profile store in memory: each profile id says what rescoring it does the first
// time; after that it is unchanged, as a settled profile is.
type memStore struct {
	mu        sync.Mutex
	plan      map[string]profile.RescoreOutcome
	settled   map[string]bool
	announced map[string]bool
	failOn    string // Rescore of this id fails once
}

func (m *memStore) Rescore(_ context.Context, id string, _ profile.Evaluator, _ time.Time) (profile.RescoreResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id == m.failOn {
		m.failOn = ""
		return profile.RescoreResult{}, errors.New("firestore unavailable")
	}
	o := m.plan[id]
	if m.settled[id] {
		o = profile.RescoreUnchanged
		if m.plan[id] == profile.RescoreChanged && !m.announced[id] {
			o = profile.RescoreUnannounced
		}
	}
	m.settled[id] = true
	res := profile.RescoreResult{Outcome: o, Profile: profile.Profile{UserID: id}}
	if o.Announce() {
		res.Assessment = &profile.Assessment{ID: "rescore:v2:" + id, Action: "block", Level: "critical", PolicyVersion: "v2",
			Replaces: &profile.PolicyVerdict{Action: policy.Review}, Trusted: true}
	}
	return res, nil
}

func (m *memStore) MarkAnnounced(_ context.Context, id, _ string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.announced[id] = true
	return nil
}

type memPager []string // sorted ids

func (p memPager) Page(_ context.Context, after string, n int) ([]string, error) {
	i, _ := slices.BinarySearch(p, after)
	if i < len(p) && p[i] == after {
		i++
	}
	return slices.Clone(p[i:min(len(p), i+n)]), nil
}

func (p memPager) Count(ctx context.Context, after string) (int, error) {
	ids, _ := p.Page(ctx, after, len(p))
	return len(ids), nil
}

type memTopic struct {
	mu  sync.Mutex
	got []message.Decision
}

func (m *memTopic) Publish(_ context.Context, data []byte, attrs map[string]string) (string, error) {
	d, err := message.DecodeDecision(data)
	if err != nil {
		return "", err
	}
	if attrs[message.AttrAction] != string(d.Action) || attrs[message.AttrAssessmentID] != d.AssessmentID {
		return "", fmt.Errorf("attributes %v do not match %+v", attrs, d)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got = append(m.got, d)
	return "m", nil
}

// world is ten profiles: every third changes, the others get the new version.
func world() (*memStore, memPager) {
	st := &memStore{plan: map[string]profile.RescoreOutcome{}, settled: map[string]bool{}, announced: map[string]bool{}}
	var ids memPager
	for i := range 10 {
		id := fmt.Sprintf("user-%02d", i)
		ids = append(ids, id)
		st.plan[id] = profile.RescoreRestamped
		if i%3 == 0 {
			st.plan[id] = profile.RescoreChanged
		}
	}
	return st, ids
}

func newJob(st rescorer, ids memPager, topic *memTopic, cursor string, maxPages int) *job {
	return &job{Store: st, Profiles: ids, Decisions: topic, Version: "v2", Target: "p/(default)", Cursor: cursor,
		PageSize: 3, MaxPages: maxPages, Workers: 2, Limiter: rate.NewLimiter(rate.Inf, 1),
		Progress: newProgress(io.Discard, false, time.Now), Now: time.Now}
}

// TestRunResumes: a run stopped after some pages, or failing in one, leaves the cursor at the
// last page done; the next run goes on from there and ends where an uninterrupted run ends:
// every changed profile announced once, the cursor removed; a run after that changes nothing.
func TestRunResumes(t *testing.T) {
	tests := []struct {
		name   string
		first  int    // pages the first run may do (0: all)
		failOn string // a profile whose first rescore fails
		after  string // the cursor the first run leaves ("": removed)
	}{
		{"uninterrupted", 0, "", ""},
		{"stopped after two pages", 2, "", "user-05"},
		{"stopped after one page", 1, "", "user-02"},
		{"a failure in the third page", 0, "user-07", "user-05"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, ids := world()
			st.failOn = tt.failOn
			topic := &memTopic{}
			cursor := filepath.Join(t.TempDir(), "build", "rescore.cursor")

			s1, err := newJob(st, ids, topic, cursor, tt.first).run(context.Background())
			if tt.after == "" {
				require.NoError(t, err)
				assert.NoFileExists(t, cursor)
			} else {
				require.Error(t, err)
				saved, lerr := newJob(st, ids, topic, cursor, 0).load()
				require.NoError(t, lerr)
				assert.Equal(t, tt.after, saved.After)
				assert.Equal(t, s1.Counts.Profiles, saved.Counts.Profiles)
				_, err = newJob(st, ids, topic, cursor, 0).run(context.Background())
				require.NoError(t, err)
				assert.NoFileExists(t, cursor, "a finished run removes its cursor")
			}
			var got []string
			for _, d := range topic.got {
				got = append(got, d.ProfileID)
			}
			assert.ElementsMatch(t, []string{"user-00", "user-03", "user-06", "user-09"}, got, "each changed profile announced once")
			for id := range st.plan {
				assert.True(t, st.settled[id], id)
			}

			before := len(topic.got)
			again, err := newJob(st, ids, topic, cursor, 0).run(context.Background())
			require.NoError(t, err)
			assert.Len(t, topic.got, before, "a second run publishes nothing")
			assert.Equal(t, counts{Profiles: 10, Unchanged: 10}, again.Counts)
		})
	}
}

// TestUnannouncedIsAnnouncedAgain: a run stopped between a commit and its publish leaves a
// changed profile that a later run announces (the store reports it unannounced).
func TestUnannouncedIsAnnouncedAgain(t *testing.T) {
	st, ids := world()
	st.settled["user-03"] = true // changed by an earlier run that never published
	topic := &memTopic{}
	s, err := newJob(st, ids, topic, filepath.Join(t.TempDir(), "c"), 0).run(context.Background())
	require.NoError(t, err)
	assert.Len(t, topic.got, 4)
	assert.Equal(t, 4, s.Counts.Published)
	assert.Equal(t, 3, s.Counts.Changed)
	assert.Equal(t, map[string]int{"review->block": 3}, s.Counts.Transitions)
}

func TestCursorOfAnotherRunIsRefused(t *testing.T) {
	cursor := filepath.Join(t.TempDir(), "rescore.cursor")
	st, ids := world()
	j := newJob(st, ids, &memTopic{}, cursor, 1)
	_, err := j.run(context.Background())
	require.ErrorIs(t, err, errStopped)
	tests := []struct{ version, target string }{{"v3", "p/(default)"}, {"v2", "other/(default)"}}
	for _, tt := range tests {
		j := newJob(st, ids, &memTopic{}, cursor, 0)
		j.Version, j.Target = tt.version, tt.target
		_, err := j.run(context.Background())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "remove the file to start over")
	}
	require.NoError(t, os.WriteFile(cursor, []byte("{"), 0o600))
	_, err = newJob(st, ids, &memTopic{}, cursor, 0).run(context.Background())
	assert.ErrorContains(t, err, "remove it to start over")
}

func TestProgressLine(t *testing.T) {
	tests := []struct {
		name                 string
		done, total, thisRun int
		elapsed              time.Duration
		changed, stamped     int
		want                 string
	}{
		{"start", 0, 100, 0, 0, 0, 0, "[..............................] 0/100   0% 0.0/s changed 0 restamped 0"},
		{"halfway", 50, 100, 50, 10 * time.Second, 2, 40, "[###############...............] 50/100  50% 5.0/s changed 2 restamped 40 eta 10s"},
		{"resumed: rate of this run", 80, 100, 20, 10 * time.Second, 0, 0, "[########################......] 80/100  80% 2.0/s changed 0 restamped 0 eta 10s"},
		{"done", 100, 100, 100, 4 * time.Second, 1, 1, "[##############################] 100/100 100% 25.0/s changed 1 restamped 1"},
		{"total unknown", 7, -1, 7, time.Second, 0, 0, "7 profiles 7.0/s changed 0 restamped 0"},
		{"empty project", 0, 0, 0, time.Second, 0, 0, "[##############################] 0/0 100% 0.0/s changed 0 restamped 0"},
		{"more than counted", 12, 10, 12, time.Second, 0, 0, "[##############################] 12/12 100% 12.0/s changed 0 restamped 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, progressLine(tt.done, tt.total, tt.thisRun, tt.elapsed, tt.changed, tt.stamped))
		})
	}
}

func TestParse(t *testing.T) {
	env := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "POLICY_FILE": "/live.yaml", "DECISIONS_TOPIC": "d"}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, o options)
		wantErr string
	}{
		{"defaults from the scorer's environment", nil, env, func(t *testing.T, o options) {
			assert.Equal(t, options{project: "p", database: "(default)", topic: "d", policyFile: "/live.yaml", cursor: "build/rescore.cursor",
				rate: 50, page: 200, workers: 4, publishTimeout: 10 * time.Second,
				humanTTL: config.DefaultHumanOverrideTTL, cooldown: config.DefaultDowngradeCooldown}, o)
		}, ""},
		{"flags win", []string{"-project", "q", "-policy", "new.yaml", "-rate", "5", "-page", "10", "-pages", "2", "-resume", "build/x"}, env,
			func(t *testing.T, o options) {
				assert.Equal(t, "q", o.project)
				assert.Equal(t, "new.yaml", o.policyFile)
				assert.Equal(t, 5.0, o.rate)
				assert.Equal(t, 10, o.page)
				assert.Equal(t, 2, o.pages)
				assert.Equal(t, "build/x", o.cursor)
			}, ""},
		{"no project", nil, nil, nil, "-project"},
		{"zero rate", []string{"-rate", "0"}, env, nil, "-rate"},
		{"negative pages", []string{"-pages", "-1"}, env, nil, "-pages"},
		{"unknown flag", []string{"-fast"}, env, nil, "fast"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parse(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(t, o)
		})
	}
}

func TestSummary(t *testing.T) {
	st := state{Target: "p/(default)", PolicyVersion: "v2", After: "user-05", Pages: 2,
		Counts: counts{Profiles: 6, Changed: 2, Restamped: 4, Published: 2, Transitions: map[string]int{"review->block": 1, "approve->step_up": 1}}}
	assert.Equal(t, "rescore finished: policy v2 on p/(default): 6 profiles, 2 changed (approve->step_up 1, review->block 1), 4 restamped, 0 unchanged, 0 missing; 2 decisions published; 1.5s",
		summary(st, true, 1500*time.Millisecond))
	assert.True(t, strings.HasPrefix(summary(st, false, 0), `rescore stopped after page 2 (resume from "user-05")`))
}
