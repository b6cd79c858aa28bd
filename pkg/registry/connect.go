package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Options say how to reach a registry.
type Options struct {
	// Host is HOST[:PORT], optionally prefixed with http:// or https:// to force the protocol
	// (--registry-url, or the host found from the images).
	Host string
	// HostFromFlag is true when Host came from --registry-url; it changes the hint of an
	// unreachable registry.
	HostFromFlag bool
	// Token is the user's bearer token; empty sends no Authorization header.
	Token string
	// CAFile is --certificate-authority, added to the system roots.
	CAFile string
	// CAData are further PEM bundles to trust, e.g. the kubeconfig's CA and, in a pod, the
	// service CA that signs the integrated registry's certificate.
	CAData [][]byte
	// ForceInsecure is --force-insecure.
	ForceInsecure bool
	// InsecureKubeconfig is true when the kubeconfig skips TLS verification of the API server.
	InsecureKubeconfig bool
	// Dialect forces the dialect; DialectAuto detects it.
	Dialect Dialect

	// dialAddr, set by tests, is dialled instead of Host's address (as curl --resolve does),
	// so that a test server on loopback can stand for a remote host name.
	dialAddr string
}

// zeroDigest names a blob that cannot exist; deleting it probes the /admin API harmlessly.
const zeroDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

// Connect finds a protocol that reaches the registry, pings it (GET /v2/ must answer 200) and
// detects its dialect unless o.Dialect forces one. The protocols tried are those of the
// secure-connection rules (see Options.InsecureAllowed): HTTPS first, then HTTP when insecure
// connections are allowed, or only the protocol an http:// or https:// prefix names. The
// error matches ErrUnavailable and carries a hint naming the flag that fixes the cause.
func Connect(ctx context.Context, o Options) (*Client, error) {
	protocols, host, err := o.splitAddress()
	if err != nil {
		return nil, err
	}
	hc, err := o.httpClient()
	if err != nil {
		return nil, err
	}
	cerr := &ConnectError{Host: host}
	for _, proto := range protocols {
		c := &Client{base: url.URL{Scheme: proto, Host: host}, http: hc, token: o.Token, dialect: o.Dialect}
		err := c.ping(ctx)
		if err == nil {
			if c.dialect == DialectAuto {
				if c.dialect, err = c.detectDialect(ctx); err != nil {
					return nil, err
				}
			}
			return c, nil
		}
		cerr.Attempts = append(cerr.Attempts, err)
		cerr.Hints = appendHint(cerr.Hints, hintFor(err, proto, o))
		var status *StatusError
		if errors.As(err, &status) {
			break // a registry answered: another protocol would not change its mind
		}
	}
	return nil, cerr
}

// ping checks that a registry answers GET /v2/ with 200.
func (c *Client) ping(ctx context.Context) error {
	resp, err := c.do(ctx, http.MethodGet, "/v2/")
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return newStatusError(resp)
	}
	return nil
}

// detectDialect probes DELETE /admin/blobs/<zero digest>: the OpenShift registry ignores an
// unknown blob and answers 2xx, a distribution registry has no such route (404 or 405). A
// 401 or 403 means the user may not prune, which every later delete would meet too.
func (c *Client) detectDialect(ctx context.Context) (Dialect, error) {
	resp, err := c.do(ctx, http.MethodDelete, "/admin/blobs/"+zeroDigest)
	if err != nil {
		return "", fmt.Errorf("failed to probe the registry's /admin API: %w", err)
	}
	defer drain(resp)
	switch {
	case isSuccess(resp.StatusCode):
		return DialectOpenShift, nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed:
		return DialectDistribution, nil
	}
	err = newStatusError(resp)
	if errors.Is(err, ErrUnauthorized) {
		return "", fmt.Errorf("failed to probe the registry's /admin API: %w\n%s", err, hintPruner)
	}
	return "", fmt.Errorf("failed to probe the registry's /admin API: %w", err)
}

// hintFor returns the hint that names the fix for a failed ping over proto, or "".
func hintFor(err error, proto string, o Options) string {
	msg := err.Error()
	var unknownCA x509.UnknownAuthorityError
	var verify *tls.CertificateVerificationError
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.Is(err, ErrUnauthorized):
		return hintLogin
	case proto == "https" && strings.Contains(msg, "server gave HTTP response to HTTPS client"):
		if o.InsecureAllowed() {
			return ""
		}
		return hintForceInsecure
	case proto == "http" && (strings.Contains(msg, "malformed HTTP response") || strings.Contains(msg, "HTTP request to an HTTPS server")):
		return hintNoTLS
	case errors.As(err, &unknownCA) || errors.As(err, &verify):
		return hintCA
	case errors.As(err, &dnsErr) || errors.As(err, &opErr) || isTimeout(err):
		if o.HostFromFlag {
			return hintRouteGiven
		}
		return hintRouteDetected
	}
	return ""
}

func appendHint(hints []string, h string) []string {
	if h == "" {
		return hints
	}
	for _, x := range hints {
		if x == h {
			return hints
		}
	}
	return append(hints, h)
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &t) && t.Timeout())
}
