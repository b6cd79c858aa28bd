package pruner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// crossings turns the passing of the keep-younger-than cutoff into candidates. No index
// change happens when an Image or a stream item grows old enough, so the continuous mode
// reads the index's time-ordered keys instead of planning everything now and then:
//
//   - horizon is the cutoff up to which every crossing has become a candidate (the full round
//     that starts the leader's work covers everything older);
//   - due makes candidates of the Images and streams with an item created in (horizon, cutoff]
//     and moves horizon to the cutoff;
//   - next is when the next crossing happens: the creation time of the first Image or item
//     after horizon, plus keep-younger-than.
//
// Streams kept whole because they are younger than the cutoff are remembered with their own
// crossing time (young), since the lookups above follow items, not streams. Pods that are
// neither Running nor Pending stop protecting their images when they grow older than the
// cutoff; the index has no time-ordered key for them, so their crossings are kept in memory
// (pods, one timer per such pod), set at the full round and from the changes a pass plans.
// Age decides no other referrer's protection.
type crossings struct {
	feed   ChangeFeed
	reader model.Reader
	// horizon is zero until the first full round sets it.
	horizon time.Time
	young   map[string]time.Time // stream repo -> when it passes the cutoff
	pods    *podTimers
}

func newCrossings(feed ChangeFeed, r model.Reader) *crossings {
	return &crossings{feed: feed, reader: r, young: map[string]time.Time{}, pods: newPodTimers()}
}

// reset starts the crossings afresh at the full round planned by p: everything older than
// its cutoff was planned, young are the streams it kept whole for their age, and the pod
// timers are read again from the index.
func (c *crossings) reset(ctx context.Context, p Policy, young map[string]time.Time) error {
	c.horizon, c.young = p.Cutoff(), young
	return c.pods.load(ctx, c.reader, p)
}

// errFound stops a time-ordered lookup at its first answer.
var errFound = errors.New("found")

// due adds to s what crossed the cutoff of p since the last call; since is the crossing time.
// The raw changes already in s first set or end pod timers (podTimers.observe).
func (c *crossings) due(ctx context.Context, p Policy, s *candidateSet) error {
	if err := c.pods.observe(ctx, c.reader, p, s); err != nil {
		return err
	}
	c.pods.due(p, s)
	cutoff := p.Cutoff()
	for repo, at := range c.young {
		if !at.After(p.Now) {
			addTo(s.streams, repo, at)
			delete(c.young, repo)
		}
	}
	if c.horizon.IsZero() || !cutoff.After(c.horizon) {
		return nil
	}
	keep := p.KeepYoungerThan
	var digests, repos []string
	err := c.feed.ImagesCreatedBetween(ctx, c.horizon, cutoff, func(d string) error { digests = append(digests, d); return nil })
	if err != nil {
		return fmt.Errorf("failed to read the images created before the cutoff %s: %w", cutoff, err)
	}
	err = c.feed.StreamsWithItemsCreatedBetween(ctx, c.horizon, cutoff, func(r string) error { repos = append(repos, r); return nil })
	if err != nil {
		return fmt.Errorf("failed to read the streams with items created before the cutoff %s: %w", cutoff, err)
	}
	for _, d := range digests {
		img, ok, err := c.reader.Image(ctx, d)
		if err != nil {
			return fmt.Errorf("failed to read image %s: %w", d, err)
		}
		if ok {
			addTo(s.images, d, img.Created.Add(keep))
		}
	}
	for _, r := range repos {
		first, ok, err := c.itemAfter(ctx, r, c.horizon)
		if err != nil {
			return err
		}
		if !ok || first.After(cutoff) {
			first = cutoff
		}
		addTo(s.streams, r, first.Add(keep))
	}
	c.horizon = cutoff
	return nil
}

// next returns when the next crossing after horizon happens; ok is false when nothing
// younger than the cutoff exists.
func (c *crossings) next(ctx context.Context, p Policy) (time.Time, bool, error) {
	at, _ := c.pods.next()
	for _, t := range c.young {
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	if c.horizon.IsZero() {
		return at, !at.IsZero(), nil
	}
	var first string
	err := c.feed.ImagesCreatedBetween(ctx, c.horizon, p.Now.Add(time.Hour*24*365), func(d string) error { first = d; return errFound })
	if err != nil && !errors.Is(err, errFound) {
		return time.Time{}, false, fmt.Errorf("failed to find the next image to pass the cutoff: %w", err)
	}
	if first != "" {
		img, ok, err := c.reader.Image(ctx, first)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("failed to read image %s: %w", first, err)
		}
		if t := img.Created.Add(p.KeepYoungerThan); ok && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	var repo string
	err = c.feed.StreamsWithItemsCreatedBetween(ctx, c.horizon, p.Now.Add(time.Hour*24*365), func(r string) error { repo = r; return errFound })
	if err != nil && !errors.Is(err, errFound) {
		return time.Time{}, false, fmt.Errorf("failed to find the next stream item to pass the cutoff: %w", err)
	}
	if repo != "" {
		first, ok, err := c.itemAfter(ctx, repo, c.horizon)
		if err != nil {
			return time.Time{}, false, err
		}
		if t := first.Add(p.KeepYoungerThan); ok && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	return at, !at.IsZero(), nil
}

// itemAfter returns the creation time of the oldest item of stream repo created after t.
func (c *crossings) itemAfter(ctx context.Context, repo string, t time.Time) (time.Time, bool, error) {
	ns, name, _ := strings.Cut(repo, "/")
	st, ok, err := c.reader.Stream(ctx, ns, name)
	if err != nil || !ok {
		if err != nil {
			err = fmt.Errorf("failed to read image stream %s: %w", repo, err)
		}
		return time.Time{}, false, err
	}
	var first time.Time
	for _, tag := range st.Tags {
		for _, it := range tag.Items {
			if it.Created.After(t) && (first.IsZero() || it.Created.Before(first)) {
				first = it.Created
			}
		}
	}
	return first, !first.IsZero(), nil
}

// streamYoung remembers a stream kept whole because it is younger than the cutoff.
func (c *crossings) streamYoung(s model.Stream, p Policy) {
	c.young[s.Repo()] = s.Created.Add(p.KeepYoungerThan)
}
