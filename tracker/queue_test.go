package tracker

import (
	"context"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/index"
)

func qput(kind, name string) change {
	return change{kind: kind, key: changeKey(kind, "ns", name), ops: []index.Op{index.DeleteWatermark(name)}}
}

func TestQueueKeepsTheLatestChangePerObject(t *testing.T) {
	q := newQueue()
	a1, a2 := qput("Pod", "a"), qput("Pod", "a")
	a2.ops = nil
	q.add(a1, "1")
	q.add(qput("Pod", "b"), "2")
	q.add(qput("ReplicationController", "a"), "3")
	q.add(a2, "4")
	if q.len() != 3 {
		t.Fatalf("queue holds %d objects, want 3 (changes of one object coalesce, kinds do not)", q.len())
	}
	first := q.take(2)
	q.done(first, true)
	rest := q.take(10)
	if len(first.changes) != 2 || first.changes[0].ops != nil || first.changes[1].key != "Pod/ns/b" ||
		len(rest.changes) != 1 || rest.changes[0].kind != "ReplicationController" {
		t.Errorf("took %+v then %+v; want pod a's latest change, pod b, then the controller", first.changes, rest.changes)
	}
}

func TestQueueHandsOutAWatermarkOnlyWithTheLastWaitingChangeOfItsKind(t *testing.T) {
	q := newQueue()
	q.add(qput("Pod", "a"), "10")
	q.add(qput("Pod", "b"), "11")
	q.add(qput("Image", "x"), "12")
	b := q.take(1)
	if _, ok := b.marks["Pod"]; ok {
		t.Fatalf("the batch of pod a carries the pods' watermark %v while pod b waits", b.marks)
	}
	q.done(b, true)
	b = q.take(1)
	if b.marks["Pod"] != "11" {
		t.Fatalf("the batch of pod b, the last waiting pod, carries watermarks %v; want Pod at 11", b.marks)
	}
	if _, ok := b.marks["Image"]; ok {
		t.Fatalf("the image's watermark was handed out while its change waits: %v", b.marks)
	}
	q.done(b, true)
	b = q.take(1)
	q.done(b, true)
	if b.marks["Image"] != "12" || b.marks["Pod"] != "" {
		t.Fatalf("last batch carries %v; want only Image at 12 (the pods' is written)", b.marks)
	}
	q.mark("Pod", "20")
	if b = q.take(5); len(b.changes) != 0 || b.marks["Pod"] != "20" {
		t.Fatalf("a bookmark gave the batch %+v; want no change and the pods' watermark at 20", b)
	}
	q.done(b, false)
	if b = q.take(5); b.marks["Pod"] != "20" {
		t.Fatalf("a watermark whose write failed is not handed out again: %v", b.marks)
	}
}

func TestWaitIdleReturnsOnceTheKindsChangesAreDone(t *testing.T) {
	q := newQueue()
	q.add(qput("Pod", "a"), "1")
	b := q.take(1)
	done := make(chan error, 1)
	go func() { done <- q.waitIdle(context.Background(), "Pod") }()
	select {
	case <-done:
		t.Fatal("waitIdle returned while the pod's change was being applied")
	case <-time.After(50 * time.Millisecond):
	}
	q.done(b, true)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waitIdle did not return after the change was done")
	}
}
