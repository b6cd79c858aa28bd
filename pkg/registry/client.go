package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// Dialect is the kind of registry API a Client talks to.
type Dialect string

// The dialects Connect detects, or that a caller forces with Options.Dialect.
const (
	// DialectAuto asks Connect to detect the dialect.
	DialectAuto Dialect = ""
	// DialectOpenShift is OpenShift's integrated registry: v2 deletes of layer and manifest
	// links, and DELETE /admin/blobs/<digest> for blobs.
	DialectOpenShift Dialect = "openshift"
	// DialectDistribution is a plain distribution registry: v2 deletes only, blobs are left to
	// its garbage collector.
	DialectDistribution Dialect = "distribution"
)

// ParseDialect accepts "auto" (or ""), "openshift" and "distribution".
func ParseDialect(s string) (Dialect, error) {
	switch s {
	case "", "auto":
		return DialectAuto, nil
	case string(DialectOpenShift), string(DialectDistribution):
		return Dialect(s), nil
	}
	return "", fmt.Errorf("invalid registry dialect %q: want auto, openshift or distribution", s)
}

// Client deletes from one registry. Build it with Connect. It is safe for concurrent use.
type Client struct {
	base    url.URL
	http    *http.Client
	token   string
	dialect Dialect
}

// URL returns the registry's base URL, with the protocol Connect chose.
func (c *Client) URL() string { return c.base.String() }

// Dialect returns the registry's dialect.
func (c *Client) Dialect() Dialect { return c.dialect }

// DeleteLayerLink deletes the link of a layer or config blob in repository repo
// ("NAMESPACE/NAME"): DELETE /v2/<repo>/blobs/<digest>. The blob itself stays in the registry's
// storage. A link that is already gone (404) is success.
func (c *Client) DeleteLayerLink(ctx context.Context, repo, digest string) error {
	return c.delete(ctx, "/v2/"+repo+"/blobs/"+digest)
}

// DeleteManifestLink deletes manifest digest from repository repo:
// DELETE /v2/<repo>/manifests/<digest>. A manifest that is already gone (404) is success.
func (c *Client) DeleteManifestLink(ctx context.Context, repo, digest string) error {
	return c.delete(ctx, "/v2/"+repo+"/manifests/"+digest)
}

// DeleteBlob deletes a blob from the registry's storage: DELETE /admin/blobs/<digest> on the
// OpenShift registry. On a distribution registry it sends nothing and returns ErrNoAdminAPI:
// such a registry removes unlinked blobs with its garbage collector. A blob that is already
// gone (404) is success.
func (c *Client) DeleteBlob(ctx context.Context, digest string) error {
	if c.dialect != DialectOpenShift {
		return ErrNoAdminAPI
	}
	return c.delete(ctx, "/admin/blobs/"+digest)
}

// delete sends DELETE path; 2xx and 404 are success.
func (c *Client) delete(ctx context.Context, path string) error {
	resp, err := c.do(ctx, http.MethodDelete, path)
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode == http.StatusNotFound || isSuccess(resp.StatusCode) {
		return nil
	}
	return newStatusError(resp)
}

// do sends one request with the bearer token, if any.
func (c *Client) do(ctx context.Context, method, path string) (*http.Response, error) {
	u := c.base
	u.Path = path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("failed to build the request %s %s: %w", method, path, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return c.http.Do(req)
}

func isSuccess(code int) bool { return code >= 200 && code < 300 }

// drain reads what is left of a small response and closes it, so the connection is reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64*1024))
	_ = resp.Body.Close()
}
