package index

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// Under churn (creates, updates, deletes, re-creates) the table holds exactly what a map
// would, through the rehashes of its index and the rewrites of its keys.
func TestStateTableMatchesAMapUnderChurn(t *testing.T) {
	tab := newStateTable()
	want := map[string]objectState{}
	rng := rand.New(rand.NewPCG(1, 2))
	key := func(i int) []byte {
		return objectKey(podObject("pod-"+itoa(i)+"-"+strings.Repeat("x", i%40), "").Key)
	}
	phases := []string{"Pending", "Running", "Succeeded", "Failed", "Unknown", "Other"}
	compactions, rehashes := 0, 0
	for step := range 200_000 {
		i := rng.IntN(20_000)
		k := key(i)
		keysBefore, slotsBefore, removedBefore := len(tab.keys), len(tab.slots), tab.removed
		if rng.IntN(3) == 0 {
			tab.remove(k)
			delete(want, string(k))
		} else {
			st := objectState{created: int64(step), since: int64(i), phase: phases[rng.IntN(len(phases))], gen: uint64(step)}
			tab.set(k, st)
			want[string(k)] = st
		}
		if len(tab.keys) < keysBefore {
			compactions++
		}
		if len(tab.slots) != slotsBefore || tab.removed < removedBefore-1 { // a rehash drops the removed slots
			rehashes++
		}
		if step%10_000 == 0 || step == 199_999 {
			compareStateTable(t, tab, want)
		}
	}
	if compactions == 0 || rehashes == 0 {
		t.Fatalf("the churn did not exercise the table: %d key rewrites, %d rehashes", compactions, rehashes)
	}
	if tab.garbage*2 > len(tab.keys)+2*minGarbage {
		t.Errorf("removed keys are %d of the %d key bytes", tab.garbage, len(tab.keys))
	}
	t.Logf("%d states, %d key bytes (%d removed), %d slots, %d key rewrites, %d rehashes", tab.len(), len(tab.keys), tab.garbage, len(tab.slots), compactions, rehashes)
}

func compareStateTable(t *testing.T, tab *stateTable, want map[string]objectState) {
	t.Helper()
	if tab.len() != len(want) {
		t.Fatalf("table holds %d states, want %d", tab.len(), len(want))
	}
	for k, st := range want {
		if got, ok := tab.get([]byte(k)); !ok || got != st {
			t.Fatalf("state of %q: got %+v, %v; want %+v", k, got, ok, st)
		}
	}
	seen := 0
	tab.each(func(key []byte, st objectState) {
		seen++
		if w, ok := want[string(key)]; !ok || w != st {
			t.Fatalf("each gave %q %+v, want %+v (held: %v)", key, st, w, ok)
		}
	})
	if seen != len(want) {
		t.Fatalf("each gave %d states, want %d", seen, len(want))
	}
}

// A key too long for the table is not held: lookups read its record.
func TestStateTableDoesNotHoldAKeyTooLong(t *testing.T) {
	tab := newStateTable()
	long := []byte("o" + strings.Repeat("k", 1<<16))
	tab.set(long, objectState{phase: "Running"})
	if _, ok := tab.get(long); ok || tab.len() != 0 {
		t.Fatalf("a %d-byte key is held", len(long))
	}
	short := []byte("o-short")
	tab.set(short, objectState{phase: "Running"})
	tab.set(short, objectState{phase: strings.Repeat("z", 3)}) // still codable: replaces
	if got, ok := tab.get(short); !ok || got.phase != "zzz" {
		t.Fatalf("got %+v, %v", got, ok)
	}
}
