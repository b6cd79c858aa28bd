package webhook

import (
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// problemLogInterval is how often one reason may be logged. A misbehaving client or a stalled
// index can produce thousands of identical problems a second; one line per reason and interval,
// with the count of those not logged, keeps the log readable and the handler fast.
const problemLogInterval = 10 * time.Second

// problems counts every problem and logs each reason at most once per interval.
type problems struct {
	log     logr.Logger
	metrics *Metrics
	now     func() time.Time

	mu         sync.Mutex
	lastLogged map[string]time.Time
	suppressed map[string]int
}

func newProblems(log logr.Logger, m *Metrics, now func() time.Time) *problems {
	return &problems{log: log, metrics: m, now: now, lastLogged: map[string]time.Time{}, suppressed: map[string]int{}}
}

// report counts a problem of reason and logs it unless that reason was logged recently.
func (p *problems) report(reason string, err error, keysAndValues ...any) {
	p.metrics.Problems.WithLabelValues(reason).Inc()
	now := p.now()
	p.mu.Lock()
	last, seen := p.lastLogged[reason]
	if seen && now.Sub(last) < problemLogInterval {
		p.suppressed[reason]++
		p.mu.Unlock()
		return
	}
	p.lastLogged[reason] = now
	suppressed := p.suppressed[reason]
	p.suppressed[reason] = 0
	p.mu.Unlock()
	kv := append([]any{"reason", reason, "suppressedSinceLast", suppressed}, keysAndValues...)
	p.log.Error(err, "admission request allowed despite a problem", kv...)
}
