package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/queue"
	"github.com/riskwire/didit-risk/internal/scorer"
)

// rescorer is the profile store's part the job uses; *profile.Store is one.
type rescorer interface {
	Rescore(ctx context.Context, profileID string, eng profile.Evaluator, now time.Time) (profile.RescoreResult, error)
	MarkAnnounced(ctx context.Context, profileID, assessmentID string, now time.Time) error
}

// pager lists profile ids in document-id order, a page at a time: the run's only cursor is the
// last id done, so a run resumes after it.
type pager interface {
	Page(ctx context.Context, after string, n int) ([]string, error)
	Count(ctx context.Context, after string) (int, error) // profiles after after; an estimate is fine
}

// job is one rescore run.
type job struct {
	Store     rescorer
	Profiles  pager
	Decisions queue.Publisher
	Engine    profile.Evaluator
	Version   string // the policy version Engine runs
	Target    string // project/database, recorded in the cursor
	Cursor    string // file path
	PageSize  int
	MaxPages  int // 0: all
	Workers   int
	Limiter   *rate.Limiter
	Progress  *progress
	Now       func() time.Time
}

// state is what the cursor file keeps between runs.
type state struct {
	Target        string    `json:"target"`
	PolicyVersion string    `json:"policy_version"`
	After         string    `json:"after"` // the last profile id of the last page done
	Pages         int       `json:"pages"`
	Counts        counts    `json:"counts"`
	StartedAt     time.Time `json:"started_at"`
}

// counts are a run's totals, by outcome and, for changed verdicts, by action transition.
type counts struct {
	Profiles    int            `json:"profiles"`
	Unchanged   int            `json:"unchanged"`
	Restamped   int            `json:"restamped"`
	Changed     int            `json:"changed"`
	Missing     int            `json:"missing"`
	Published   int            `json:"published"`   // decisions published (changed + earlier unannounced)
	Transitions map[string]int `json:"transitions"` // "review->block": n
}

func (c *counts) add(res profile.RescoreResult) {
	c.Profiles++
	switch res.Outcome {
	case profile.RescoreUnchanged, profile.RescoreUnannounced:
		c.Unchanged++
	case profile.RescoreRestamped:
		c.Restamped++
	case profile.RescoreChanged:
		c.Changed++
		from := "unverified"
		if r := res.Assessment.Replaces; r != nil {
			from = string(r.Action)
		}
		if c.Transitions == nil {
			c.Transitions = map[string]int{}
		}
		c.Transitions[from+"->"+string(res.Assessment.Action)]++
	case profile.RescoreMissing:
		c.Missing++
	}
	if res.Outcome.Announce() {
		c.Published++
	}
}

// errStopped ends a run that did the pages it was asked for (-pages) before the end.
var errStopped = errors.New("stopped before the end")

// run rescores every profile after the cursor, page by page. After each page is done (every
// profile settled and each changed verdict published), the cursor advances; a run that fails
// or is stopped leaves it at the last page done, and the next run starts after it. A finished
// run removes the cursor, so the next run starts over (and, if nothing changed since, changes
// nothing).
func (j *job) run(ctx context.Context) (state, error) {
	st, err := j.load()
	if err != nil {
		return st, err
	}
	if n, err := j.Profiles.Count(ctx, st.After); err == nil {
		j.Progress.start(st.Counts.Profiles, st.Counts.Profiles+n)
	} else {
		j.Progress.start(st.Counts.Profiles, -1)
	}
	defer j.Progress.finish()
	for pages := 0; j.MaxPages == 0 || pages < j.MaxPages; pages++ {
		ids, err := j.Profiles.Page(ctx, st.After, j.PageSize)
		if err != nil {
			return st, fmt.Errorf("read profiles after %q: %w", st.After, err)
		}
		if len(ids) == 0 {
			return st, j.done()
		}
		c, err := j.page(ctx, ids)
		if err != nil {
			return st, err
		}
		st.After, st.Pages = ids[len(ids)-1], st.Pages+1
		st.Counts = merge(st.Counts, c)
		if err := j.save(st); err != nil {
			return st, err
		}
		if len(ids) < j.PageSize {
			return st, j.done()
		}
	}
	return st, errStopped
}

// page rescores ids with j.Workers at a time, rate-limited, and returns their counts; the first
// error stops the page (in-flight profiles finish).
func (j *job) page(ctx context.Context, ids []string) (counts, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu  sync.Mutex
		c   counts
		wg  sync.WaitGroup
		ch  = make(chan string)
		one = func(id string) error {
			if err := j.Limiter.Wait(ctx); err != nil {
				return err
			}
			res, err := j.one(ctx, id)
			if err != nil {
				return err
			}
			mu.Lock()
			c.add(res)
			j.Progress.update(res)
			mu.Unlock()
			return nil
		}
	)
	for range max(1, min(j.Workers, len(ids))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ch {
				if err := one(id); err != nil {
					cancel(err)
				}
			}
		}()
	}
feed:
	for _, id := range ids {
		select {
		case ch <- id:
		case <-ctx.Done():
			break feed
		}
	}
	close(ch)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return c, err
	}
	return c, nil
}

// one settles one profile under the live policy and announces a changed verdict: published on
// the decisions topic, then marked announced, so a run stopped in between publishes it again
// (consumers deduplicate on assessment_id) and never loses it.
func (j *job) one(ctx context.Context, id string) (profile.RescoreResult, error) {
	res, err := j.Store.Rescore(ctx, id, j.Engine, j.Now())
	if err != nil {
		return res, err
	}
	if !res.Outcome.Announce() {
		return res, nil
	}
	d := scorer.Decision(id, res.Profile.UserID, res.Assessment)
	d.SessionStatus = didit.Status(res.Assessment.SessionStatus) // the verdict session's, as the scorer sends it
	data, err := d.Encode()
	if err != nil {
		return res, err
	}
	if _, err := j.Decisions.Publish(ctx, data, d.Attributes()); err != nil {
		return res, fmt.Errorf("announce rescore of %s: %w", id, err)
	}
	return res, j.Store.MarkAnnounced(ctx, id, res.Assessment.ID, j.Now())
}

// load reads the cursor; a missing one starts a new run. A cursor of another target or policy
// version is refused: resuming it would skip profiles the new run never saw.
func (j *job) load() (state, error) {
	fresh := state{Target: j.Target, PolicyVersion: j.Version, StartedAt: j.Now()}
	b, err := os.ReadFile(j.Cursor)
	if errors.Is(err, fs.ErrNotExist) {
		return fresh, nil
	}
	if err != nil {
		return fresh, fmt.Errorf("read cursor: %w", err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return fresh, fmt.Errorf("cursor %s: %w (remove it to start over)", j.Cursor, err)
	}
	if st.Target != j.Target || st.PolicyVersion != j.Version {
		return fresh, fmt.Errorf("cursor %s belongs to a run of policy %q on %s, not %q on %s: finish that run, or remove the file to start over",
			j.Cursor, st.PolicyVersion, st.Target, j.Version, j.Target)
	}
	return st, nil
}

// save writes the cursor whole or not at all.
func (j *job) save(st state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(j.Cursor), 0o750); err != nil {
		return fmt.Errorf("cursor: %w", err)
	}
	tmp := j.Cursor + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("cursor: %w", err)
	}
	if err := os.Rename(tmp, j.Cursor); err != nil {
		return fmt.Errorf("cursor: %w", err)
	}
	return nil
}

// done removes the cursor of a finished run.
func (j *job) done() error {
	if err := os.Remove(j.Cursor); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove cursor: %w", err)
	}
	return nil
}

func merge(a, b counts) counts {
	a.Profiles += b.Profiles
	a.Unchanged += b.Unchanged
	a.Restamped += b.Restamped
	a.Changed += b.Changed
	a.Missing += b.Missing
	a.Published += b.Published
	for k, n := range b.Transitions {
		if a.Transitions == nil {
			a.Transitions = map[string]int{}
		}
		a.Transitions[k] += n
	}
	return a
}

// summary is the run's one closing line.
func summary(st state, finished bool, took time.Duration) string {
	c := st.Counts
	var ts []string
	for k, n := range c.Transitions {
		ts = append(ts, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(ts)
	how := "finished"
	if !finished {
		how = fmt.Sprintf("stopped after page %d (resume from %q)", st.Pages, st.After)
	}
	tr := ""
	if len(ts) > 0 {
		tr = " (" + strings.Join(ts, ", ") + ")"
	}
	return fmt.Sprintf("rescore %s: policy %s on %s: %d profiles, %d changed%s, %d restamped, %d unchanged, %d missing; %d decisions published; %s",
		how, st.PolicyVersion, st.Target, c.Profiles, c.Changed, tr, c.Restamped, c.Unchanged, c.Missing, c.Published, took.Round(time.Millisecond))
}
