package pruner

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/pruneguard/pruneguard/pkg/audit"
	"github.com/pruneguard/pruneguard/pkg/model"
)

// Deleter deletes plans for the continuous mode; *FencedPruner (the fence protocol) is the
// one serve uses.
type Deleter interface {
	Prune(ctx context.Context, plan *Plan, policy Policy) (*Outcome, error)
	Recover(ctx context.Context, policy Policy) ([]*Outcome, error)
	LiftTombstones(ctx context.Context) error
}

var _ Deleter = (*FencedPruner)(nil)

// Defaults of ContinuousOptions.
const (
	// DefaultFullRoundInterval is the safety net: a full plan from the index this often,
	// for what no index event or timer brings up (an invalid reference fixed), and the bound
	// on how long a candidate that the passes missed waits. A full round at 200,000 images
	// reads the index for about ten seconds, so every ten minutes costs ~2% of a core.
	DefaultFullRoundInterval = 10 * time.Minute
	// DefaultMinGap is the rate limit between the starts of two passes: short enough that
	// the time to prune stays well under the 2 s target, long enough that a burst of watch
	// events becomes one pass (and one fence) rather than one per event.
	DefaultMinGap = 100 * time.Millisecond
	// DefaultMaxImages bounds the Images one pass deletes (one fence); the rest wait for the
	// next pass, MinGap later.
	DefaultMaxImages = 200
	// DefaultInvalidCheckInterval bounds how often a pass re-checks for invalid references
	// before it deletes. The index reports no change for an object whose references cannot
	// be parsed, so the check reads every object (0.43 s at size L, 153,000 referrers:
	// BenchmarkInvalidReferenceCheck); a pass that deletes makes it at most this often, which
	// bounds both its cost (1.4% of a core at L) and how long deletions go on after an
	// invalid reference appears.
	DefaultInvalidCheckInterval = 30 * time.Second
	// defaultPausePoll is how often a paused pruner reads the pause switch again.
	defaultPausePoll = time.Second
)

// ContinuousOptions configure a Continuous pruner. Reader, Fenced and Options are required.
type ContinuousOptions struct {
	// Reader is the live index that serve keeps. A *ListReader is used as is (serve shares
	// it with the fence's re-check); any other reader is wrapped in one.
	Reader model.Reader
	// Feed is the index's change feed. Nil makes every pass a full round (every Interval
	// and on Kick), the behaviour before candidates.
	Feed ChangeFeed
	// Fenced deletes each plan, through the fence protocol in serve.
	Fenced Deleter
	// Options is the policy, as the flags of `prune images` give it.
	Options Options
	// Interval is the time between two full rounds (DefaultFullRoundInterval).
	Interval time.Duration
	// MinGap and MaxImages are the rate limit (DefaultMinGap, DefaultMaxImages).
	MinGap    time.Duration
	MaxImages int
	// Paused, when set and true, stops planning and deleting: the pause switch. Candidates
	// wait and are decided once it is false again.
	Paused func(context.Context) bool
	// PausePoll is how often the pause switch is read while paused (1 s).
	PausePoll time.Duration
	// RetryBase and RetryMax bound the backoff of candidates whose prune failed
	// (DefaultRetryBase, DefaultRetryMax).
	RetryBase, RetryMax time.Duration
	// InvalidCheckInterval is how often, at most, a pass that deletes re-checks for invalid
	// references (DefaultInvalidCheckInterval).
	InvalidCheckInterval time.Duration
	// Audit and Metrics, when set, receive a record per action and the prune figures.
	Audit   Auditor
	Metrics *audit.Metrics
	Logger  logr.Logger
	// Now is the clock of the policy; nil means time.Now.
	Now func() time.Time
}

// CandidateStats count what the continuous mode planned, for tests and metrics.
type CandidateStats struct {
	// Streams and Images are the stream and Image candidates planned one by one.
	Streams, Images int64
	// Passes are the candidate passes run, FullRounds the full plans (both counted as they
	// start); Finished counts the passes and full rounds that have ended.
	Passes, FullRounds, Finished int64
	// Retrying is the number of candidates waiting in the backoff after a failure.
	Retrying int64
	// PodTimers is the number of finished pods whose crossing of the cutoff is awaited.
	PodTimers int64
}

// Continuous prunes from the live index on the leader, candidate by candidate.
//
// At the start of the leader's work it recovers the fences a previous leader left and makes
// a full round: the whole policy planned from the local index (a read of Badger, not of the
// API server), exactly as a one-shot prune of the same state decides, and deleted. From then
// on it listens to the index's change feed and plans only what a change may have released
// (see expand and streamSnapshot): each stream candidate with PlanStream (stage 1) and each
// Image candidate with PlanImage (stage 2), reading only that candidate's entries. The Images
// of the items a pass deletes are decided in the same pass with those items seen as gone, as
// stage 2 of a full plan sees them, and the executor deletes the items first as in oc; a blob
// goes with the last Image of a pass that uses it, and stays while any other Image does.
// Timers (crossings) bring up what passes the keep-younger-than cutoff. A full round every
// Interval is the safety net for what no event announces.
//
// Every deletion goes through Fenced; every deleted Image and stream item is an audit record
// (and so a Kubernetes Event), and a candidate that a change brought up and that is kept is
// recorded once per change of the rule that keeps it. A candidate whose prune fails (the
// registry or the API server down) is planned again after a backoff (retries).
//
// Invalid references stop deletions as they stop `prune images` (unless
// --ignore-invalid-refs). The full round checks for them; a pass that would delete checks
// again when the last check is older than InvalidCheckInterval (the index reports no change
// for an invalid reference, see checkInvalid). While any is found, passes delete nothing and
// their candidates wait in the backoff.
type Continuous struct {
	o         ContinuousOptions
	queue     *candidateQueue
	retry     *retries
	lists     *ListReader
	snapshot  *streamSnapshot
	timers    *crossings
	kept      map[string]Rule
	invalid   bool
	checkedAt time.Time // the last check for invalid references
	lastStart time.Time
	nextFull  time.Time
	fullFails int // consecutive full rounds that could not plan
	stats     struct{ streams, images, passes, full, finished atomic.Int64 }
	retrying  atomic.Int64
}

// NewContinuous returns a Continuous pruner with o's defaults filled in.
func NewContinuous(o ContinuousOptions) *Continuous {
	if o.Interval <= 0 {
		o.Interval = DefaultFullRoundInterval
	}
	if o.MinGap <= 0 {
		o.MinGap = DefaultMinGap
	}
	if o.MaxImages <= 0 {
		o.MaxImages = DefaultMaxImages
	}
	if o.PausePoll <= 0 {
		o.PausePoll = defaultPausePoll
	}
	if o.RetryBase <= 0 {
		o.RetryBase = DefaultRetryBase
	}
	if o.RetryMax <= 0 {
		o.RetryMax = DefaultRetryMax
	}
	if o.InvalidCheckInterval <= 0 {
		o.InvalidCheckInterval = DefaultInvalidCheckInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	lists, ok := o.Reader.(*ListReader)
	if !ok {
		lists = NewListReader(o.Reader)
	}
	return &Continuous{
		o: o, queue: newCandidateQueue(), retry: newRetries(o.RetryBase, o.RetryMax), lists: lists, snapshot: newStreamSnapshot(),
		timers: newCrossings(o.Feed, lists), kept: map[string]Rule{},
	}
}

// Reader is the reader the pruner plans from: the index with the manifest-list lookup.
// Serve gives it to the fence's re-check too.
func (c *Continuous) Reader() *ListReader { return c.lists }

// Kick asks for a pass soon; it never blocks. Without a change feed the pass is a full round.
func (c *Continuous) Kick() { c.queue.signal() }

// Stats returns what was planned so far.
func (c *Continuous) Stats() CandidateStats {
	return CandidateStats{
		Streams: c.stats.streams.Load(), Images: c.stats.images.Load(),
		Passes: c.stats.passes.Load(), FullRounds: c.stats.full.Load(), Finished: c.stats.finished.Load(),
		Retrying: c.retrying.Load(), PodTimers: c.timers.pods.len(),
	}
}

// Run recovers the fences a previous leader left, then prunes until ctx is done.
func (c *Continuous) Run(ctx context.Context) error {
	log := c.o.Logger.WithName("continuous")
	if _, err := c.o.Fenced.Recover(ctx, c.o.Options.Policy(c.o.Now())); err != nil {
		log.Error(err, "failed to recover the fences of a previous run; they are retried next round")
	}
	if c.o.Feed != nil {
		// Subscribed before the first full round reads the index, so that no change falls
		// between the two.
		cancel := c.o.Feed.OnCommit(func(ch Changes) {
			c.queue.changed(ch, c.lists.Changed(ch.Digests))
		})
		defer cancel()
	}
	c.nextFull = time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-c.queue.wake:
		}
		if !c.rateLimit(ctx) {
			return nil
		}
		if c.o.Paused != nil && c.o.Paused(ctx) {
			resetTimer(timer, c.o.PausePoll)
			continue
		}
		var err error
		if c.o.Feed == nil || !time.Now().Before(c.nextFull) {
			err = c.FullRound(ctx)
		} else {
			err = c.Pass(ctx)
		}
		c.stats.finished.Add(1)
		c.retrying.Store(int64(len(c.retry.states)))
		switch {
		case err == nil || ctx.Err() != nil:
		case errors.Is(err, ErrInvalidReferences):
			log.Error(err, "invalid references stop pruning until they are fixed")
		default:
			log.Error(err, "prune pass failed; its candidates are retried after a backoff")
		}
		resetTimer(timer, c.untilNext(ctx, c.nextFull))
	}
}

// rateLimit waits until MinGap has passed since the last pass started.
func (c *Continuous) rateLimit(ctx context.Context) bool {
	if wait := time.Until(c.lastStart.Add(c.o.MinGap)); wait > 0 {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
	}
	c.lastStart = time.Now()
	return true
}

// untilNext is how long to sleep: until the next full round or cutoff crossing, or at once
// when candidates are queued.
func (c *Continuous) untilNext(ctx context.Context, nextFull time.Time) time.Duration {
	if c.queue.pending() {
		return 0
	}
	d := time.Until(nextFull)
	if at, ok := c.retry.next(); ok {
		d = min(d, time.Until(at))
	}
	if c.o.Feed == nil {
		return d
	}
	now := c.o.Now()
	at, ok, err := c.timers.next(ctx, c.o.Options.Policy(now))
	if err != nil {
		c.o.Logger.Error(err, "failed to find the next cutoff crossing; relying on the full round")
		return d
	}
	if ok && at.Sub(now) < d {
		d = max(at.Sub(now), 0)
	}
	return d
}

func resetTimer(t *time.Timer, d time.Duration) {
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	t.Reset(max(d, 0))
}

// FullRound plans the whole policy from the index and deletes the plan. It also rebuilds
// what the passes keep in memory (the manifest lists, the stream snapshot, the timers'
// horizon and the young streams). The next full round is Interval later, or after a backoff
// when this one could not read the index; what it could not delete is retried by passes.
func (c *Continuous) FullRound(ctx context.Context) error {
	c.stats.full.Add(1)
	c.fullFails++
	c.nextFull = time.Now().Add(c.retry.delay(c.fullFails))
	plan, policy, err := c.planFull(ctx)
	if err != nil {
		if errors.Is(err, ErrInvalidReferences) {
			c.fullFails, c.nextFull = 0, time.Now().Add(c.o.Interval)
		}
		return err
	}
	c.fullFails, c.nextFull = 0, time.Now().Add(c.o.Interval)
	if err := c.execute(ctx, plan, policy, nil); err != nil {
		c.retry.failed(planKeys(plan, newCandidateSet(), c.o.Now()), time.Now())
		return err
	}
	c.retry.reset()
	return nil
}

// planFull makes the full round's plan and the passes' memory.
func (c *Continuous) planFull(ctx context.Context) (*Plan, Policy, error) {
	policy := c.o.Options.Policy(c.o.Now())
	if c.o.Feed != nil {
		if err := c.lists.Load(ctx); err != nil {
			return nil, policy, err
		}
		if err := c.snapshot.load(ctx, c.o.Reader); err != nil {
			return nil, policy, err
		}
	}
	pl := NewPlanner(c.lists, policy)
	young := map[string]time.Time{}
	pl.SetTrace(func(r Reason) {
		if r.Rule == RuleStreamYoung {
			young[r.Stream] = r.Created.Add(policy.KeepYoungerThan)
		}
	})
	plan, err := pl.Plan(ctx)
	if !policy.IgnoreInvalidRefs {
		c.invalid, c.checkedAt = errors.Is(err, ErrInvalidReferences), time.Now()
	}
	if err != nil {
		return nil, policy, err
	}
	if err := c.timers.reset(ctx, policy, young); err != nil {
		return nil, policy, err
	}
	return plan, policy, nil
}
