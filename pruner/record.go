package pruner

import (
	"context"
	"errors"
	"time"

	"github.com/pruneguard/pruneguard/pkg/audit"
	"github.com/pruneguard/pruneguard/pkg/model"
)

// execute deletes plan through the fence and records what went. since gives, per Image,
// when it became prunable (nil or missing: unknown, as for a full round).
func (c *Continuous) execute(ctx context.Context, plan *Plan, policy Policy, since map[string]time.Time) error {
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
	start := time.Now()
	sizes := c.sizes(ctx, plan)
	out, err := c.o.Fenced.Prune(ctx, plan, policy)
	if out != nil {
		c.record(ctx, out, sizes, since)
	}
	if c.o.Metrics != nil {
		c.o.Metrics.PruneFinished(time.Since(start))
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

// record writes an audit record for every stream item and Image the prune deleted, and the
// metrics of every Image, with its time to prune when since knows it.
func (c *Continuous) record(ctx context.Context, out *Outcome, sizes map[string]int64, since map[string]time.Time) {
	if out.Plan == nil {
		return
	}
	// The policy's clock: the cutoff crossings that give since are on it too.
	now := c.o.Now()
	for _, sp := range out.Plan.Streams {
		for _, d := range sp.Deleted {
			item := &model.StreamItem{Repo: sp.Repo(), Tag: d.Tag, Position: d.Revision}
			c.audit(ctx, audit.Record{Time: now, Action: audit.ActionDeleted, Image: d.Image, StreamItem: item,
				Rule: string(d.Reason.Rule), Message: d.Reason.Message()})
		}
	}
	for _, ip := range out.Plan.Images {
		delete(c.kept, ip.Digest)
		if c.o.Metrics != nil {
			c.o.Metrics.ImagePruned(sizes[ip.Digest], since[ip.Digest], now)
		}
		c.audit(ctx, audit.Record{Time: now, Action: audit.ActionDeleted, Image: ip.Digest,
			Rule: string(ip.Reason.Rule), Message: ip.Reason.Message()})
	}
}

// recordKept records that a candidate Image is kept, once per change of the rule that keeps
// it: an Image that a pod keeps is brought up by every pod that comes or goes, and the trail
// is history, not a log of every pass. A candidate that does not exist is not recorded.
func (c *Continuous) recordKept(ctx context.Context, ip ImagePlan) {
	r := ip.Reason
	if r.Rule == "" || c.kept[ip.Digest] == r.Rule {
		return
	}
	if len(c.kept) >= maxKeptMemory {
		clear(c.kept)
	}
	c.kept[ip.Digest] = r.Rule
	c.audit(ctx, audit.Record{Time: time.Now(), Action: audit.ActionKept, Image: ip.Digest, Rule: string(r.Rule),
		Referrers: r.Referrers, Message: r.Message()})
}

// maxKeptMemory bounds the rules remembered for recordKept (about 100 bytes each); past it
// the memory starts again, which at worst records a kept Image once more.
const maxKeptMemory = 100_000

func (c *Continuous) audit(ctx context.Context, rec audit.Record) {
	if c.o.Audit == nil {
		return
	}
	if err := c.o.Audit.Record(ctx, rec); err != nil {
		c.o.Logger.Error(err, "failed to record an audit entry", "image", rec.Image, "action", string(rec.Action))
	}
}
