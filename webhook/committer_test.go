package webhook

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/pruneguard/pruneguard/pkg/index"
	"github.com/pruneguard/pruneguard/pkg/model"
)

// countingApplier applies to a real index and counts Apply calls.
type countingApplier struct {
	ix    *index.Index
	calls atomic.Int64
	delay time.Duration
}

func (a *countingApplier) Apply(ctx context.Context, ops ...index.Op) error {
	a.calls.Add(1)
	time.Sleep(a.delay)
	return a.ix.Apply(ctx, ops...)
}

func pendingOp(name string) index.Op {
	return index.PutPending(model.Object{
		Key:  model.ObjectKey{Kind: model.KindPod, Namespace: testNS, Name: name},
		Refs: []model.Ref{{FieldPath: "spec.containers[c].image", Kind: model.RefDockerImage, Raw: registry + "/shop/app:v1", Repo: "shop/app", Tag: "v1"}},
	}, testNow.Add(time.Minute))
}

func TestConcurrentSubmitsShareCommits(t *testing.T) {
	ix, err := index.Open(index.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	// Each commit takes 2 ms, so submissions arriving meanwhile must queue into the next one.
	a := &countingApplier{ix: ix, delay: 2 * time.Millisecond}
	var batches []int
	var mu sync.Mutex
	c := NewCommitter(a, logr.Discard(), func(n int) { mu.Lock(); batches = append(batches, n); mu.Unlock() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	const n = 300
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- c.Submit(context.Background(), pendingOp(fmt.Sprintf("p%d", i)))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("submit: %v", err)
		}
	}
	count := 0
	if err := ix.PendingObjects(context.Background(), func(index.PendingObject) error { count++; return nil }); err != nil {
		t.Fatal(err)
	}
	if count != n {
		t.Errorf("%d pending records, want %d", count, n)
	}
	if calls := a.calls.Load(); calls >= n/2 {
		t.Errorf("%d commits for %d concurrent submits (batches %v), want far fewer", calls, n, batches)
	}
	cancel()
	<-done
	if err := c.Submit(context.Background(), pendingOp("late")); !errors.Is(err, ErrStopped) {
		t.Errorf("submit after stop = %v, want ErrStopped", err)
	}
}

// failOn fails the ops whose String names a given object, as an index refusing one op would.
type failOn struct {
	ix   *index.Index
	name string
}

func (f failOn) Apply(ctx context.Context, ops ...index.Op) error {
	for i, op := range ops {
		if op.String() == "put pending object Pod/"+testNS+"/"+f.name {
			if err := f.ix.Apply(ctx, ops[:i]...); err != nil {
				return err
			}
			return errors.New("refused " + op.String())
		}
	}
	return f.ix.Apply(ctx, ops...)
}

func TestOneFailingOpFailsOnlyItsSubmitter(t *testing.T) {
	ix, err := index.Open(index.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	c := NewCommitter(failOn{ix: ix, name: "bad"}, logr.Discard(), nil)
	// Queue the batch before the loop runs, so it is committed as one.
	results := make(chan error, 3)
	for _, name := range []string{"a", "bad", "b"} {
		go func() { results <- c.Submit(context.Background(), pendingOp(name)) }()
	}
	for len(c.queue) < 3 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = c.Run(ctx) }()
	failed := 0
	for range 3 {
		if err := <-results; err != nil {
			failed++
		}
	}
	got := map[string]bool{}
	_ = ix.PendingObjects(context.Background(), func(p index.PendingObject) error { got[p.Object.Key.Name] = true; return nil })
	if failed != 1 || !got["a"] || !got["b"] || got["bad"] {
		t.Errorf("%d submits failed and pending = %v; want only bad to fail and a, b recorded", failed, got)
	}
}
