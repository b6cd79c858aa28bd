package registry

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Errors callers match with errors.Is.
var (
	// ErrUnavailable is matched by every error of Connect that means no registry answered as
	// one should: nothing can be deleted from it.
	ErrUnavailable = errors.New("registry unavailable")
	// ErrNoAdminAPI is returned by DeleteBlob on a registry without the OpenShift /admin API
	// (a plain distribution registry). It is not a failure: the blob is left to the registry's
	// own garbage collector (`registry garbage-collect`), which removes blobs no manifest links.
	ErrNoAdminAPI = errors.New("the registry has no /admin API; blobs are left to its garbage collector")
	// ErrUnauthorized is matched by a 401 or 403 answer: the token is missing, expired or not
	// allowed to prune.
	ErrUnauthorized = errors.New("the registry refused the credentials")
)

// Hints appended to connection errors, with the flag that fixes each cause.
const (
	hintForceInsecure = "* Append --force-insecure if you really want to prune the registry using an insecure connection, or serve the registry over HTTPS."
	hintNoTLS         = "* Are you trying to connect to a TLS-enabled registry without TLS? Drop the http:// prefix of --registry-url."
	hintCA            = "* The registry's certificate is not signed by a known authority: pass the CA bundle that signed it with --certificate-authority."
	hintRouteDetected = "* Please provide a reachable route to the integrated registry using --registry-url."
	hintRouteGiven    = "* Check that the address given with --registry-url is reachable from here."
	hintLogin         = "* Log in with a token (oc login --token=...) or use a kubeconfig whose user has a bearer token; the registry authenticates users by their API token."
	hintPruner        = "* The user needs the system:image-pruner cluster role to delete from the registry."
)

// StatusError is an unexpected HTTP answer of the registry.
type StatusError struct {
	Method string
	URL    string
	Code   int
	// Body is the start of the response body: the registry's JSON error, if any.
	Body string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.Code, http.StatusText(e.Code))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Is makes a 401 or 403 match ErrUnauthorized.
func (e *StatusError) Is(target error) bool {
	return target == ErrUnauthorized && (e.Code == http.StatusUnauthorized || e.Code == http.StatusForbidden)
}

// maxErrorBody bounds how much of an error response is kept: registries answer with a short
// JSON error document; anything longer is not worth printing.
const maxErrorBody = 512

func newStatusError(resp *http.Response) *StatusError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return &StatusError{
		Method: resp.Request.Method, URL: resp.Request.URL.String(), Code: resp.StatusCode,
		Body: strings.TrimSpace(string(body)),
	}
}

// ConnectError says why Connect found no usable registry: the error of every protocol tried
// and the hints that name the fix.
type ConnectError struct {
	Host     string
	Attempts []error
	Hints    []string
}

func (e *ConnectError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "failed to ping registry %s: ", e.Host)
	for i, err := range e.Attempts {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(err.Error())
	}
	for _, h := range e.Hints {
		b.WriteString("\n")
		b.WriteString(h)
	}
	return b.String()
}

// Is makes every ConnectError match ErrUnavailable.
func (e *ConnectError) Is(target error) bool { return target == ErrUnavailable }

// Unwrap returns the attempts' errors, so errors.Is and errors.As see them.
func (e *ConnectError) Unwrap() []error { return e.Attempts }
