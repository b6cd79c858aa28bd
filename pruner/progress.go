package pruner

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress prints "listed 12000 pods, 3400 images, ..." to w at most once per interval while
// a cluster is listed, and the totals at the end. The clock is read only when an object is
// added, so an idle listing prints nothing.
type progress struct {
	w        io.Writer
	every    time.Duration
	last     time.Time
	now      func() time.Time
	counts   map[string]int
	order    []string
	sinceCnt int
}

func newProgress(o ListOptions) *progress {
	every := o.ProgressEvery
	if every <= 0 {
		every = defaultProgressEvery
	}
	p := &progress{w: o.Progress, every: every, now: time.Now, counts: make(map[string]int)}
	p.last = p.now()
	return p
}

// checkEvery is how many objects pass between two reads of the clock.
const checkEvery = 256

func (p *progress) add(kind string) {
	if _, ok := p.counts[kind]; !ok {
		p.order = append(p.order, kind)
	}
	p.counts[kind]++
	if p.w == nil {
		return
	}
	p.sinceCnt++
	if p.sinceCnt < checkEvery {
		return
	}
	p.sinceCnt = 0
	if now := p.now(); now.Sub(p.last) >= p.every {
		p.last = now
		fmt.Fprintf(p.w, "listed %s...\n", p.line())
	}
}

// finish prints a note per kind not served and the totals.
func (p *progress) finish(skipped []string) {
	if p.w == nil {
		return
	}
	for _, k := range skipped {
		fmt.Fprintf(p.w, "note: the API server does not serve %s; none are counted\n", k)
	}
	fmt.Fprintf(p.w, "listed %s\n", p.line())
}

func (p *progress) line() string {
	parts := make([]string, 0, len(p.order))
	for _, k := range p.order {
		parts = append(parts, fmt.Sprintf("%d %s", p.counts[k], k))
	}
	if len(parts) == 0 {
		return "no objects"
	}
	return strings.Join(parts, ", ")
}
