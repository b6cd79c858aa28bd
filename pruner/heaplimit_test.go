package pruner_test

import (
	"runtime/debug"
	"testing"

	"github.com/pruneguard/pruneguard/pruner"
)

func TestOneShotHeapLimitIsSetAndRestored(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	before := debug.SetMemoryLimit(-1)
	restore := pruner.LimitOneShotHeap()
	if got := debug.SetMemoryLimit(-1); got != pruner.OneShotHeapLimit {
		t.Errorf("limit %d during the one-shot, want %d", got, pruner.OneShotHeapLimit)
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit %d after restore, want %d", got, before)
	}
}

func TestGOMEMLIMITOverridesTheOneShotHeapLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "2GiB")
	before := debug.SetMemoryLimit(-1)
	defer pruner.LimitOneShotHeap()()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit %d with GOMEMLIMIT set, want the runtime's own %d", got, before)
	}
}
