package audit

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// User is an authenticated caller, as a TokenReview returns it.
type User struct {
	Name   string              `json:"username"`
	UID    string              `json:"uid,omitempty"`
	Groups []string            `json:"groups,omitempty"`
	Extra  map[string][]string `json:"extra,omitempty"`
}

// Attributes is one access check: a resource check (Verb, Group, Resource in Namespace; ""
// namespace is cluster-wide) or, with Path set, a non-resource URL check.
type Attributes struct {
	Verb      string
	Group     string
	Resource  string
	Namespace string
	Path      string
}

// String names the check in 403 messages, as kubectl auth can-i would ask it.
func (a Attributes) String() string {
	if a.Path != "" {
		return a.Verb + " " + a.Path
	}
	s := a.Verb + " " + a.Resource
	if a.Group != "" {
		s += "." + a.Group
	}
	if a.Namespace != "" {
		return s + " in namespace " + a.Namespace
	}
	return s + " at the cluster scope"
}

// The access checks of the audit API (see the package comment).
const imageGroup = "image.openshift.io"

// NamespaceAccess is the check of a query scoped to namespace: get imagestreams there.
func NamespaceAccess(namespace string) Attributes {
	return Attributes{Verb: "get", Group: imageGroup, Resource: "imagestreams", Namespace: namespace}
}

// ClusterAccess is the check of a cluster-wide query: get images (cluster-scoped).
func ClusterAccess() Attributes {
	return Attributes{Verb: "get", Group: imageGroup, Resource: "images"}
}

// MetricsAccess is the check of /metrics: get on the non-resource URL, as the chart's
// metrics-reader ClusterRole grants it.
func MetricsAccess() Attributes { return Attributes{Verb: "get", Path: "/metrics"} }

// scopeAccess is what a query scoped to namespace ("" for the cluster) needs: get images
// cluster-wide, or for a namespace get imagestreams there (cluster-wide get images suffices
// too: the cluster scope answers with everything).
func scopeAccess(namespace string) requirement {
	if namespace == "" {
		return requirement{ClusterAccess()}
	}
	return requirement{NamespaceAccess(namespace), ClusterAccess()}
}

// requirement is satisfied by any one of its attributes; 403 messages name the first.
type requirement []Attributes

// Authorizer authenticates bearer tokens and authorises users. NewKubeAuthorizer implements
// it with TokenReview and SubjectAccessReview; tests may use any other.
type Authorizer interface {
	// Authenticate returns the user of token, or an error wrapping ErrUnauthorized when the
	// token is not valid; other errors mean the check itself failed.
	Authenticate(ctx context.Context, token string) (User, error)
	// Authorize reports whether user may do a, with the authorizer's reason when it may not.
	Authorize(ctx context.Context, user User, a Attributes) (allowed bool, reason string, err error)
}

// TokenHeader carries the caller's token when the API is reached through the API server's
// service proxy: the API server authenticates the proxy request itself and removes its
// Authorization header before forwarding, so the CLI sends the token in this header too.
// The token is checked exactly as a bearer token is.
const TokenHeader = "X-Pruneguard-Token"

// bearerToken returns the token of an "Authorization: Bearer" header, else of TokenHeader.
func bearerToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "bearer") {
			return strings.TrimSpace(token)
		}
		return ""
	}
	return strings.TrimSpace(r.Header.Get(TokenHeader))
}

// authenticate returns the caller of r, or writes 401 (no or a rejected token) or 500 and
// returns false.
func authenticate(w http.ResponseWriter, r *http.Request, authz Authorizer) (User, bool) {
	token := bearerToken(r)
	if token == "" {
		writeError(w, http.StatusUnauthorized, "a bearer token is required (Authorization: Bearer TOKEN)")
		return User{}, false
	}
	user, err := authz.Authenticate(r.Context(), token)
	switch {
	case errors.Is(err, ErrUnauthorized):
		writeError(w, http.StatusUnauthorized, "the bearer token was not accepted by the API server")
		return User{}, false
	case err != nil:
		writeError(w, http.StatusInternalServerError, "failed to authenticate the token: "+err.Error())
		return User{}, false
	}
	return user, true
}

// authorize checks every requirement; on the first one unmet it writes 403 naming the
// missing right and returns false.
func authorize(w http.ResponseWriter, r *http.Request, authz Authorizer, user User, reqs ...requirement) bool {
	for _, req := range reqs {
		ok, reason, err := satisfied(r.Context(), authz, user, req)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "failed to authorize the request: "+err.Error())
			return false
		}
		if !ok {
			msg := "user " + user.Name + " may not " + req[0].String()
			if reason != "" {
				msg += ": " + reason
			}
			writeError(w, http.StatusForbidden, msg)
			return false
		}
	}
	return true
}

// satisfied reports whether user has any of req's rights, with the reason the first was
// refused.
func satisfied(ctx context.Context, authz Authorizer, user User, req requirement) (bool, string, error) {
	firstReason := ""
	for i, a := range req {
		ok, reason, err := authz.Authorize(ctx, user, a)
		if err != nil || ok {
			return ok, "", err
		}
		if i == 0 {
			firstReason = reason
		}
	}
	return false, firstReason, nil
}

// Protect serves next only to callers whose bearer token authenticates and who may do a;
// others get 401 or 403. serve wraps /metrics with Protect(authz, MetricsAccess(), h).
func Protect(authz Authorizer, a Attributes, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, ok := authenticate(w, r, authz)
		if ok && authorize(w, r, authz, user, requirement{a}) {
			next.ServeHTTP(w, r)
		}
	})
}
