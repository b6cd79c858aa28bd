package pruner

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// Pass plans the queued candidates, those whose cutoff crossing is due and those whose retry
// is due, and deletes what goes: stage 1 for the stream candidates, then stage 2 for the
// Image candidates. Candidates that could not be planned or deleted wait in the backoff.
func (c *Continuous) Pass(ctx context.Context) error {
	c.stats.passes.Add(1)
	policy := c.o.Options.Policy(c.o.Now())
	set := c.queue.take()
	c.retry.due(time.Now(), set)
	if err := c.timers.due(ctx, policy, set); err != nil {
		c.retry.failed(set, time.Now())
		return err
	}
	if set.empty() {
		return c.o.Fenced.LiftTombstones(ctx)
	}
	if err := expand(ctx, c.lists, policy, set); err != nil {
		c.retry.failed(set, time.Now())
		return err
	}
	view := &passView{ListReader: c.lists, gone: map[model.StreamItem]bool{}}
	b := &batch{c: c, policy: policy, pl: NewPlanner(view, policy), view: view, set: set, plan: &Plan{}}
	err := b.planStreams(ctx)
	if err == nil && policy.Namespace == "" {
		err = b.planImages(ctx)
	}
	if err != nil {
		// A read failed: the candidates are decided again after the backoff.
		c.retry.failed(set, time.Now())
		return err
	}
	if hold, err := c.holdForInvalid(ctx, policy, b.plan); hold {
		c.retry.failed(set, time.Now())
		return err
	}
	err = c.execute(ctx, b.plan, policy, set.images)
	c.settle(set, b.plan, err)
	return err
}

// settle records the outcome of a pass's deletion: on failure the plan's streams and Images
// wait in the backoff; every other candidate of the pass was decided.
func (c *Continuous) settle(set *candidateSet, plan *Plan, err error) {
	if err == nil {
		c.retry.succeeded(set)
		return
	}
	failed := planKeys(plan, set, c.o.Now())
	decided := newCandidateSet()
	set.each(func(k retryKey, since time.Time) {
		if !failed.has(k) {
			decided.addKey(k, since)
		}
	})
	c.retry.succeeded(decided)
	c.retry.failed(failed, time.Now())
}

// merge adds every candidate of from to to.
func merge(to, from *candidateSet) {
	for _, pair := range [][2]map[string]time.Time{
		{to.images, from.images}, {to.streams, from.streams}, {to.digests, from.digests},
		{to.tags, from.tags}, {to.namespaces, from.namespaces},
	} {
		for k, t := range pair[1] {
			addTo(pair[0], k, t)
		}
	}
	to.full = to.full || from.full
}

// batch is one pass's planning state.
type batch struct {
	c      *Continuous
	policy Policy
	pl     *Planner
	view   *passView
	set    *candidateSet
	plan   *Plan
	images map[string]model.Image // the Images the plan deletes
}

// planStreams decides each stream candidate, and adds to the Image candidates the images a
// stream no longer names (or names no more because it is gone) and the images of the items it
// deletes. Those are decided in the same pass, with the items seen as gone (passView), as
// stage 2 of a full plan decides them after stage 1: one fence for an item and its Image,
// and a fence that names the Image it frees (a fence of layer links alone has nothing for
// the verify step to probe).
func (b *batch) planStreams(ctx context.Context) error {
	for _, repo := range sortedKeys(b.set.streams) {
		since := b.set.streams[repo]
		b.c.stats.streams.Add(1)
		ns, name, _ := strings.Cut(repo, "/")
		s, ok, err := b.c.lists.Stream(ctx, ns, name)
		if err != nil {
			return fmt.Errorf("failed to read image stream %s: %w", repo, err)
		}
		for _, d := range b.c.snapshot.update(repo, s, ok) {
			addTo(b.set.images, d, since)
		}
		if !ok {
			continue
		}
		sp, err := b.pl.PlanStream(ctx, s)
		if err != nil {
			return err
		}
		if b.policy.ruleStreamYoung(s) {
			b.c.timers.streamYoung(s, b.policy)
		}
		if len(sp.Deleted) > 0 {
			b.plan.Streams = append(b.plan.Streams, sp)
		}
		for _, d := range sp.Deleted {
			b.view.gone[model.StreamItem{Repo: repo, Tag: d.Tag, Position: d.Revision}] = true
			addTo(b.set.images, d.Image, since)
		}
	}
	return nil
}

// passView is the index as stage 2 of a pass sees it: the stream items that the pass's
// stage 1 deletes are gone, as they are for stage 2 of a full plan. The index itself has them
// until the executor's stream updates reach it.
type passView struct {
	*ListReader
	gone map[model.StreamItem]bool // keyed by repo, tag and position when planned
}

// StreamItemsOfImage implements model.Reader without the items the pass deletes.
func (v *passView) StreamItemsOfImage(ctx context.Context, repo, image string) ([]model.StreamItem, error) {
	items, err := v.ListReader.StreamItemsOfImage(ctx, repo, image)
	if err != nil || len(v.gone) == 0 {
		return items, err
	}
	kept := items[:0:0]
	for _, it := range items {
		if !v.gone[it] {
			kept = append(kept, it)
		}
	}
	return kept, nil
}

// planImages decides each Image candidate; a manifest list that goes brings its children up
// in the same pass, as the full plan decides them after it.
func (b *batch) planImages(ctx context.Context) error {
	b.images = map[string]model.Image{}
	queue := sortedKeys(b.set.images)
	seen := map[string]bool{}
	for len(queue) > 0 && len(b.plan.Images) < b.c.o.MaxImages {
		d := queue[0]
		queue = queue[1:]
		if seen[d] {
			continue
		}
		seen[d] = true
		b.c.stats.images.Add(1)
		ip, del, err := b.pl.PlanImage(ctx, d)
		if err != nil {
			return err
		}
		if !del {
			b.c.recordKept(ctx, ip)
			continue
		}
		img, ok, err := b.c.lists.Image(ctx, d)
		if err != nil || !ok {
			return wrapImageErr(d, err)
		}
		b.images[d] = img
		b.plan.Images = append(b.plan.Images, ip)
		for _, child := range img.Children {
			if _, queued := b.set.images[child]; !queued {
				b.set.images[child] = b.set.images[d]
			}
			queue = append(queue, child)
		}
	}
	if len(queue) > 0 {
		// The rate limit: what is left waits for the next pass.
		rest := map[string]time.Time{}
		for _, d := range queue {
			if !seen[d] {
				addTo(rest, d, b.set.images[d])
			}
		}
		b.c.queue.add(func(q *candidateSet) { merge(q, &candidateSet{images: rest}) })
	}
	return b.assignBlobs(ctx)
}

// assignBlobs decides the blobs of the pass's Images together, as the full plan's global
// counts do: a blob goes when every Image using it (as a layer or config, or as its own
// manifest) is in the pass, with the last of them; PlanImage alone sees the others still
// using it and frees nothing.
func (b *batch) assignBlobs(ctx context.Context) error {
	if !b.policy.PruneRegistry {
		return nil
	}
	users := map[string]int{}
	last := map[string]int{}
	for i, ip := range b.plan.Images {
		for _, bl := range append(distinct(imageBlobs(b.images[ip.Digest])), ip.Digest) {
			users[bl]++
			last[bl] = i
		}
	}
	freed := map[string]bool{}
	for bl, n := range users {
		total, err := b.c.lists.BlobCount(ctx, "", bl)
		if err != nil {
			return fmt.Errorf("failed to count the images using blob %s: %w", bl, err)
		}
		if _, ok := b.images[bl]; ok {
			total++
		} else if _, exists, err := b.c.lists.Image(ctx, bl); err != nil {
			return wrapImageErr(bl, err)
		} else if exists {
			total++
		}
		freed[bl] = total <= n
	}
	for i := range b.plan.Images {
		ip := &b.plan.Images[i]
		ip.Blobs = nil
		for _, bl := range append(distinct(imageBlobs(b.images[ip.Digest])), ip.Digest) {
			if freed[bl] && last[bl] == i {
				ip.Blobs = append(ip.Blobs, bl)
			}
		}
	}
	return nil
}

func distinct(s []string) []string {
	seen := make(map[string]bool, len(s))
	out := s[:0:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
