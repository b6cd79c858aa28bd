package pruner

import (
	"os"
	"runtime/debug"
)

// OneShotHeapLimit is the soft limit of the Go heap under which the one-shot commands run
// (prune images, and explain, refs, images and history when they load a dump or list the
// cluster into a temporary index). Without a limit the collector lets the heap grow to twice
// what is live between collections: at synth size L (200,000 images) that was about 170 MiB
// of the one-shot plan's 1 GiB peak RSS. Under the limit the collector runs more often as
// the heap nears it, which cost about 3% of the plan's time there. A cluster whose live heap
// is larger than the limit is still planned, only more slowly: Go caps the collector at half
// the CPU, and GOMEMLIMIT raises the limit.
const OneShotHeapLimit = 512 << 20

// LimitOneShotHeap sets the Go runtime's soft memory limit to OneShotHeapLimit, unless the
// GOMEMLIMIT environment variable sets one, and returns a function that restores the limit
// in force before.
func LimitOneShotHeap() (restore func()) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	prev := debug.SetMemoryLimit(OneShotHeapLimit)
	return func() { debug.SetMemoryLimit(prev) }
}
