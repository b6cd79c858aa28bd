package pruner

import (
	"fmt"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// agesOut and stopsCounting must agree with the policy's own rule (Policy.counts) for every
// kind and phase: a timer set for a referrer that never stops counting would fire for
// nothing, one missing would leave its images to the full round, and one a nanosecond early
// would fire while the pod still counts and never again.
func TestPodTimerAgesOutAgreesWithThePolicy(t *testing.T) {
	keep := 30 * time.Minute
	created := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	kinds := []string{model.KindPod, model.KindReplicationController, model.KindBuild, model.KindJob, model.KindDeployment}
	phases := []string{"", podRunning, podPending, "Succeeded", "Failed", "Unknown"}
	for _, kind := range kinds {
		for _, phase := range phases {
			for _, pending := range []bool{false, true} {
				name := fmt.Sprintf("%s phase %q pending %v", kind, phase, pending)
				crossing := stopsCounting(created, keep)
				before := Policy{Now: crossing.Add(-time.Nanosecond), KeepYoungerThan: keep}
				after := Policy{Now: crossing, KeepYoungerThan: keep}
				if !before.counts(kind, phase, created, pending) {
					t.Errorf("%s: does not count a nanosecond before its crossing", name)
				}
				if got, want := after.counts(kind, phase, created, pending), !agesOut(kind, phase, pending); got != want {
					t.Errorf("%s: counts at its crossing = %v, agesOut says %v", name, got, !want)
				}
			}
		}
	}
}

func finishedPod(name string, created time.Time, digests ...string) model.Object {
	o := model.Object{Key: model.ObjectKey{Kind: model.KindPod, Namespace: "ns", Name: name}, Created: created, Phase: "Succeeded"}
	for _, d := range digests {
		o.Refs = append(o.Refs, model.Ref{Kind: model.RefDockerImage, Repo: "ns/app", Digest: d}, model.Ref{Kind: model.RefDockerImage, Repo: "ns/app", Digest: d})
	}
	return o
}

// The timers hold one entry per pod however often a pod is seen, index it only under its
// current references, fire in crossing order with the crossing as the candidates' time, and
// leave nothing behind once fired or dropped.
func TestPodTimersHoldOneEntryPerPod(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	p := Policy{Now: t0, KeepYoungerThan: time.Hour}
	pt := newPodTimers()
	for i := range 1000 {
		pt.track(finishedPod("job", t0.Add(-time.Duration(i)*time.Second), fmt.Sprintf("sha256:%d", i%3)), p)
	}
	if n := pt.len(); n != 1 || len(pt.heap) != 1 || len(pt.byKey) != 1 {
		t.Fatalf("one pod seen 1000 times: %d timers (heap %d, keys %d)", n, len(pt.heap), len(pt.byKey))
	}
	if len(pt.byRef) != 1 || len(pt.byRef["d:sha256:0"]) != 1 {
		t.Fatalf("the pod is indexed under %v, want only its current digest sha256:0", pt.byRef)
	}
	pt.track(finishedPod("b", t0.Add(-10*time.Minute), "sha256:b"), p)
	pt.track(finishedPod("c", t0.Add(-50*time.Minute), "sha256:c"), p)
	pt.track(finishedPod("gone", t0.Add(-20*time.Minute), "sha256:gone"), p)
	pt.track(finishedPod("old", t0.Add(-2*time.Hour), "sha256:old"), p) // no longer counts: no timer
	pt.drop(model.ObjectKey{Kind: model.KindPod, Namespace: "ns", Name: "gone"})
	if n := pt.len(); n != 3 {
		t.Fatalf("%d timers, want job, b and c", n)
	}
	if at, ok := pt.next(); !ok || !at.Equal(stopsCounting(t0.Add(-50*time.Minute), time.Hour)) {
		t.Fatalf("next crossing %v (ok %v), want c's", at, ok)
	}
	var fired []string
	for _, now := range []time.Duration{15 * time.Minute, 45 * time.Minute, 55 * time.Minute} {
		s := newCandidateSet()
		pt.due(Policy{Now: t0.Add(now), KeepYoungerThan: time.Hour}, s)
		for _, d := range sortedKeys(s.digests) {
			fired = append(fired, fmt.Sprintf("%v:%s@%s", now, d, s.digests[d].Sub(t0)))
		}
	}
	want := []string{"15m0s:sha256:c@10m0.000000001s", "45m0s:sha256:0@43m21.000000001s", "55m0s:sha256:b@50m0.000000001s"}
	if fmt.Sprint(fired) != fmt.Sprint(want) {
		t.Errorf("fired %v, want %v", fired, want)
	}
	if pt.len() != 0 || len(pt.byKey) != 0 || len(pt.byRef) != 0 {
		t.Errorf("left behind: %d timers, keys %v, refs %v", pt.len(), pt.byKey, pt.byRef)
	}
}
