package audit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// fakeReviews answers TokenReviews from a token table and SubjectAccessReviews from an
// allow list of "user verb resource namespace" lines, counting each review.
type fakeReviews struct {
	mu      sync.Mutex
	tokens  map[string]string
	allow   map[string]bool
	fail    error
	reviews int
	last    *authorizationv1.SubjectAccessReview
}

func (f *fakeReviews) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reviews++
	if f.fail != nil {
		return f.fail
	}
	switch o := obj.(type) {
	case *authenticationv1.TokenReview:
		if name, ok := f.tokens[o.Spec.Token]; ok {
			o.Status = authenticationv1.TokenReviewStatus{Authenticated: true,
				User: authenticationv1.UserInfo{Username: name, Groups: []string{"system:authenticated"}}}
		}
	case *authorizationv1.SubjectAccessReview:
		f.last = o
		key := o.Spec.User + " "
		if ra := o.Spec.ResourceAttributes; ra != nil {
			key += ra.Verb + " " + ra.Resource + " " + ra.Namespace
		} else {
			key += o.Spec.NonResourceAttributes.Verb + " " + o.Spec.NonResourceAttributes.Path
		}
		o.Status.Allowed = f.allow[key]
		if !o.Status.Allowed {
			o.Status.Reason = "no RBAC policy matched"
		}
	}
	return nil
}

func (f *fakeReviews) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reviews
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestKubeAuthorizerCachesReviews(t *testing.T) {
	f := &fakeReviews{tokens: map[string]string{"good": "alice"},
		allow: map[string]bool{"alice get imagestreams shop": true}}
	clock := &fakeClock{now: t0}
	a := NewKubeAuthorizer(f, KubeAuthorizerOptions{TTL: 10 * time.Second, MaxEntries: 2, Clock: clock})
	ctx := context.Background()

	u, err := a.Authenticate(ctx, "good")
	if err != nil || u.Name != "alice" {
		t.Fatalf("Authenticate(good) = %+v, %v", u, err)
	}
	if _, err := a.Authenticate(ctx, "good"); err != nil || f.count() != 1 {
		t.Errorf("a second Authenticate within the TTL made %d reviews, want 1", f.count())
	}
	for range 2 {
		if _, err := a.Authenticate(ctx, "bad"); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("Authenticate(bad) err = %v, want ErrUnauthorized", err)
		}
	}
	if f.count() != 2 {
		t.Errorf("a rejected token was reviewed %d times, want once", f.count()-1)
	}
	clock.Advance(11 * time.Second)
	if _, err := a.Authenticate(ctx, "good"); err != nil || f.count() != 3 {
		t.Errorf("after the TTL: %d reviews, want 3", f.count())
	}

	ok, _, err := a.Authorize(ctx, u, NamespaceAccess("shop"))
	if err != nil || !ok {
		t.Errorf("alice in shop: %v, %v", ok, err)
	}
	if sar := f.last.Spec.ResourceAttributes; sar.Group != "image.openshift.io" || sar.Verb != "get" {
		t.Errorf("review asked %+v", sar)
	}
	ok, reason, err := a.Authorize(ctx, u, NamespaceAccess("team"))
	if err != nil || ok || reason == "" {
		t.Errorf("alice in team: %v, %q, %v; want refused with a reason", ok, reason, err)
	}
	before := f.count()
	if ok, _, _ := a.Authorize(ctx, u, NamespaceAccess("shop")); !ok || f.count() != before {
		t.Errorf("a cached decision was reviewed again")
	}
	if _, _, _ = a.Authorize(ctx, User{Name: "alice", Groups: []string{"other"}}, NamespaceAccess("shop")); f.count() != before+1 {
		t.Errorf("another group set reused alice's decision")
	}
	if _, _, _ = a.Authorize(ctx, u, MetricsAccess()); f.last.Spec.NonResourceAttributes.Path != "/metrics" {
		t.Errorf("metrics review %+v", f.last.Spec)
	}

	f.fail = errors.New("apiserver down")
	if _, err := a.Authenticate(ctx, "new"); err == nil || errors.Is(err, ErrUnauthorized) {
		t.Errorf("a failed review: err = %v, want a non-401 error", err)
	}
	f.fail = nil
	f.tokens["new"] = "bob"
	if u, err := a.Authenticate(ctx, "new"); err != nil || u.Name != "bob" {
		t.Errorf("a failed review was cached: %+v, %v", u, err)
	}
}
