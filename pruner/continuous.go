package pruner

import (
	"context"
	"errors"
	"time"

	"github.com/go-logr/logr"

	"github.com/pruneguard/pruneguard/pkg/audit"
	"github.com/pruneguard/pruneguard/pkg/model"
)

// ContinuousOptions configure a Continuous pruner. Reader, Fenced and Options are required.
type ContinuousOptions struct {
	// Reader is the live index that serve keeps.
	Reader model.Reader
	// Fenced deletes each plan through the fence protocol.
	Fenced *FencedPruner
	// Options is the policy, as the flags of `prune images` give it.
	Options Options
	// Interval is the longest time between two rounds (default 10 s); Kick starts one sooner.
	Interval time.Duration
	// MinGap is the shortest time between two rounds, the rate limit (default 1 s).
	MinGap time.Duration
	// Paused, when set and true, skips rounds: the pause switch.
	Paused func(context.Context) bool
	// Audit and Metrics, when set, receive a record per deleted image and the prune figures.
	Audit   Auditor
	Metrics *audit.Metrics
	Logger  logr.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Continuous prunes from the live index on the leader, as often as the rate limit allows.
//
// Each round plans the whole policy from the index — a read of the local Badger index, not a
// scan of the API server, so a round over a large cluster costs seconds of local reads, and
// the decisions are exactly those of a one-shot prune of the same state — and, when the plan
// deletes anything, deletes it through the fence. A round starts on every Kick (serve kicks
// after every batch of watch events the tracker writes) and at least every Interval, which is also what catches items
// that pass the keep-younger-than cutoff with no event at all. Invalid references stop a round
// as they stop `prune images`, unless --ignore-invalid-refs.
//
// What it does not do yet: plan one candidate at a time. Planning per candidate (PlanImage,
// PlanStream) is what would make a round cost proportional to the change instead of the index.
type Continuous struct {
	o    ContinuousOptions
	kick chan struct{}
}

// NewContinuous returns a Continuous pruner with o's defaults filled in.
func NewContinuous(o ContinuousOptions) *Continuous {
	if o.Interval <= 0 {
		o.Interval = 10 * time.Second
	}
	if o.MinGap <= 0 {
		o.MinGap = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Continuous{o: o, kick: make(chan struct{}, 1)}
}

// Kick asks for a round soon; it never blocks.
func (c *Continuous) Kick() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Run recovers the fences a previous leader left, then prunes until ctx is done.
func (c *Continuous) Run(ctx context.Context) error {
	log := c.o.Logger.WithName("continuous")
	if _, err := c.o.Fenced.Recover(ctx, c.o.Options.Policy(c.o.Now())); err != nil {
		log.Error(err, "failed to recover the fences of a previous run; they are retried next round")
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-c.kick:
		}
		if err := c.Round(ctx); err != nil && ctx.Err() == nil {
			log.Error(err, "prune round failed; retrying")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(c.o.MinGap):
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(c.o.Interval - c.o.MinGap)
	}
}

// Round plans once from the index and deletes the plan through the fence.
func (c *Continuous) Round(ctx context.Context) error {
	if c.o.Paused != nil && c.o.Paused(ctx) {
		return nil
	}
	start := c.o.Now()
	policy := c.o.Options.Policy(start)
	plan, err := NewPlanner(c.o.Reader, policy).Plan(ctx)
	if err != nil {
		return err
	}
	if len(plan.Streams) == 0 && len(plan.Images) == 0 {
		return c.o.Fenced.LiftTombstones(ctx)
	}
	if !c.o.Options.Confirm {
		// The dry run of continuous mode: say what would go, delete nothing.
		for _, ip := range plan.Images {
			c.o.Logger.Info("would prune image (dry run: pass --confirm to delete)", "image", ip.Digest, "rule", string(ip.Reason.Rule))
		}
		return nil
	}
	sizes := c.sizes(ctx, plan)
	out, err := c.o.Fenced.Prune(ctx, plan, policy)
	if out != nil {
		c.record(ctx, out, sizes)
	}
	if c.o.Metrics != nil {
		c.o.Metrics.PruneFinished(c.o.Now().Sub(start))
	}
	return errors.Join(err, c.o.Fenced.LiftTombstones(ctx))
}

// sizes reads the size of every planned image before it goes, for the metrics.
func (c *Continuous) sizes(ctx context.Context, plan *Plan) map[string]int64 {
	out := make(map[string]int64, len(plan.Images))
	for _, ip := range plan.Images {
		if img, ok, err := c.o.Reader.Image(ctx, ip.Digest); err == nil && ok {
			out[ip.Digest] = img.Size
		}
	}
	return out
}

// record writes an audit record and the metrics of every image the round deleted.
func (c *Continuous) record(ctx context.Context, out *Outcome, sizes map[string]int64) {
	log := c.o.Logger.WithName("continuous")
	if out.Plan == nil {
		return
	}
	now := c.o.Now()
	for _, ip := range out.Plan.Images {
		log.Info("pruned image", "image", ip.Digest, "rule", string(ip.Reason.Rule))
		if c.o.Metrics != nil {
			// When the image became prunable is not known here (the event that released it
			// is not tracked yet), so no time-to-prune is observed rather than a wrong one.
			c.o.Metrics.ImagePruned(sizes[ip.Digest], time.Time{}, now)
		}
		if c.o.Audit == nil {
			continue
		}
		rec := audit.Record{Time: now, Action: audit.ActionDeleted, Image: ip.Digest, Rule: string(ip.Reason.Rule), Message: ip.Reason.Message()}
		if err := c.o.Audit.Record(ctx, rec); err != nil {
			log.Error(err, "failed to record a deleted image in the audit trail", "image", ip.Digest)
		}
	}
}
