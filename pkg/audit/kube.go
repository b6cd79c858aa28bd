package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/util/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Creator creates API objects; a controller-runtime client.Client is one. The authorizer only
// creates TokenReviews and SubjectAccessReviews (the chart's ClusterRole grants exactly that).
type Creator interface {
	Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error
}

// KubeAuthorizerOptions configure NewKubeAuthorizer; zero values mean the defaults.
type KubeAuthorizerOptions struct {
	// TTL is how long a TokenReview or SubjectAccessReview answer is reused. Default 10 s:
	// a CLI run or a dashboard refresh makes several requests in a row and pays one review
	// each, while a revoked token or role stops working within seconds.
	TTL time.Duration
	// MaxEntries bounds each cache (tokens, decisions); the least recently used entry goes
	// first. Default 4096: far more than the callers of one cluster's audit API.
	MaxEntries int
	// Audiences, when set, are the audiences a token must be issued for.
	Audiences []string
	// Clock is for tests; nil means the wall clock.
	Clock cache.Clock
}

// Defaults of KubeAuthorizerOptions.
const (
	DefaultReviewTTL        = 10 * time.Second
	DefaultReviewCacheItems = 4096
)

type kubeAuthorizer struct {
	c         Creator
	ttl       time.Duration
	audiences []string
	tokens    *cache.LRUExpireCache
	decisions *cache.LRUExpireCache
}

var _ Authorizer = (*kubeAuthorizer)(nil)

// NewKubeAuthorizer returns an Authorizer that asks the API server through c: a TokenReview
// per token and a SubjectAccessReview per (user, check), each answer cached for o.TTL in a
// bounded LRU. Rejected tokens and refusals are cached too, so a caller retrying with a bad
// token does not turn into a stream of reviews; failed reviews are not cached.
func NewKubeAuthorizer(c Creator, o KubeAuthorizerOptions) Authorizer {
	if o.TTL <= 0 {
		o.TTL = DefaultReviewTTL
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultReviewCacheItems
	}
	newCache := func() *cache.LRUExpireCache {
		if o.Clock != nil {
			return cache.NewLRUExpireCacheWithClock(o.MaxEntries, o.Clock)
		}
		return cache.NewLRUExpireCache(o.MaxEntries)
	}
	return &kubeAuthorizer{c: c, ttl: o.TTL, audiences: o.Audiences, tokens: newCache(), decisions: newCache()}
}

// tokenResult is a cached TokenReview answer.
type tokenResult struct {
	user          User
	authenticated bool
}

// Authenticate implements Authorizer. Tokens are cached under their SHA-256, never as is.
func (k *kubeAuthorizer) Authenticate(ctx context.Context, token string) (User, error) {
	sum := sha256.Sum256([]byte(token))
	key := hex.EncodeToString(sum[:])
	if v, ok := k.tokens.Get(key); ok {
		return v.(tokenResult).result()
	}
	tr := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: k.audiences}}
	if err := k.c.Create(ctx, tr); err != nil {
		return User{}, fmt.Errorf("failed to create a TokenReview: %w", err)
	}
	res := tokenResult{authenticated: tr.Status.Authenticated}
	if res.authenticated {
		u := tr.Status.User
		res.user = User{Name: u.Username, UID: u.UID, Groups: u.Groups}
		if len(u.Extra) > 0 {
			res.user.Extra = make(map[string][]string, len(u.Extra))
			for k, v := range u.Extra {
				res.user.Extra[k] = []string(v)
			}
		}
	}
	k.tokens.Add(key, res, k.ttl)
	return res.result()
}

func (r tokenResult) result() (User, error) {
	if !r.authenticated {
		return User{}, ErrUnauthorized
	}
	return r.user, nil
}

// decision is a cached SubjectAccessReview answer.
type decision struct {
	allowed bool
	reason  string
}

// Authorize implements Authorizer.
func (k *kubeAuthorizer) Authorize(ctx context.Context, user User, a Attributes) (bool, string, error) {
	key := decisionKey(user, a)
	if v, ok := k.decisions.Get(key); ok {
		d := v.(decision)
		return d.allowed, d.reason, nil
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user.Name, UID: user.UID, Groups: user.Groups,
	}}
	if len(user.Extra) > 0 {
		sar.Spec.Extra = make(map[string]authorizationv1.ExtraValue, len(user.Extra))
		for k, v := range user.Extra {
			sar.Spec.Extra[k] = v
		}
	}
	if a.Path != "" {
		sar.Spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Path: a.Path, Verb: a.Verb}
	} else {
		sar.Spec.ResourceAttributes = &authorizationv1.ResourceAttributes{Namespace: a.Namespace,
			Verb: a.Verb, Group: a.Group, Resource: a.Resource}
	}
	if err := k.c.Create(ctx, sar); err != nil {
		return false, "", fmt.Errorf("failed to create a SubjectAccessReview for %s: %w", user.Name, err)
	}
	d := decision{allowed: sar.Status.Allowed && !sar.Status.Denied, reason: sar.Status.Reason}
	k.decisions.Add(key, d, k.ttl)
	return d.allowed, d.reason, nil
}

// decisionKey identifies a (user, check) pair: every field the review sends, groups and extra
// sorted, NUL-separated (no name, group or path contains NUL).
func decisionKey(u User, a Attributes) string {
	var b strings.Builder
	for _, s := range []string{u.Name, u.UID, a.Verb, a.Group, a.Resource, a.Namespace, a.Path} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	groups := slices.Clone(u.Groups)
	slices.Sort(groups)
	b.WriteString(strings.Join(groups, "\x01"))
	keys := make([]string, 0, len(u.Extra))
	for k := range u.Extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteString("\x00" + k + "=" + strings.Join(u.Extra[k], "\x01"))
	}
	return b.String()
}
