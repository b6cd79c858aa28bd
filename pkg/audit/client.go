package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// ClientOptions configure NewClient.
type ClientOptions struct {
	// BaseURL is where the API is served: "https://HOST:PORT" for a direct connection, or an
	// API server's service proxy URL ServiceProxyURL returns. APIPrefix is appended.
	BaseURL string
	// Token is the caller's bearer token.
	Token string
	// ThroughProxy sends Token in TokenHeader instead of Authorization, for BaseURLs of the
	// API server's service proxy (HTTPClient then authenticates to the API server itself).
	ThroughProxy bool
	// HTTPClient defaults to http.DefaultClient.
	HTTPClient *http.Client
}

// Client asks a running serve through the audit API. It implements Source.
type Client struct {
	o ClientOptions
}

var _ Source = (*Client)(nil)

// NewClient returns a Client.
func NewClient(o ClientOptions) *Client {
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	o.BaseURL = strings.TrimSuffix(o.BaseURL, "/")
	return &Client{o: o}
}

// ServiceProxyURL is the URL of the audit API of Service name in namespace through the API
// server at host (a rest.Config's Host): the API server forwards to the Service's port named
// port over HTTPS.
func ServiceProxyURL(host, namespace, name, port string) string {
	return strings.TrimSuffix(host, "/") + "/api/v1/namespaces/" + url.PathEscape(namespace) +
		"/services/https:" + url.PathEscape(name) + ":" + url.PathEscape(port) + "/proxy"
}

// Referrers implements Source.
func (c *Client) Referrers(ctx context.Context, q ImageQuery) (*ImageReferrers, error) {
	out := &ImageReferrers{}
	err := c.get(ctx, PathRefs, url.Values{"image": {q.Image}, "namespace": {q.Namespace}}, q.Page, out)
	return out, err
}

// ObjectImages implements Source.
func (c *Client) ObjectImages(ctx context.Context, q ObjectQuery) (*ObjectImages, error) {
	out := &ObjectImages{}
	err := c.get(ctx, PathRefs, url.Values{"object": {q.Object}}, q.Page, out)
	return out, err
}

// Images implements Source.
func (c *Client) Images(ctx context.Context, q ImagesQuery) (*ImageList, error) {
	out := &ImageList{}
	err := c.get(ctx, PathImages, url.Values{"filter": {q.Filter}, "namespace": {q.Namespace}}, q.Page, out)
	return out, err
}

// History implements Source.
func (c *Client) History(ctx context.Context, q HistoryQuery) (*History, error) {
	out := &History{}
	err := c.get(ctx, PathHistory, url.Values{"image": {q.Image}, "namespace": {q.Namespace}}, q.Page, out)
	return out, err
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

func (c *Client) get(ctx context.Context, path string, params url.Values, p Page, out any) error {
	for k, v := range params {
		if len(v) == 0 || v[0] == "" {
			delete(params, k)
		}
	}
	if p.Limit > 0 {
		params.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Continue != "" {
		params.Set("continue", p.Continue)
	}
	u := c.o.BaseURL + path + "?" + params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("failed to build the request %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	if c.o.Token != "" {
		if c.o.ThroughProxy {
			req.Header.Set(TokenHeader, c.o.Token)
		} else {
			req.Header.Set("Authorization", "Bearer "+c.o.Token)
		}
	}
	resp, err := c.o.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("failed to reach the pruneguard audit API at %s: %w", c.o.BaseURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return statusError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("failed to decode the answer of %s: %w", path, err)
	}
	return nil
}

// statusError turns an error answer into an error wrapping the matching sentinel.
func statusError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	msg := strings.TrimSpace(string(body))
	var e apiError
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		msg = e.Message
	}
	var sentinel error
	switch resp.StatusCode {
	case http.StatusBadRequest:
		sentinel = ErrInvalidArgument
	case http.StatusUnauthorized:
		sentinel = ErrUnauthorized
		msg += " (pass --token, or use a kubeconfig whose user has a bearer token)"
	case http.StatusForbidden:
		sentinel = ErrForbidden
	case http.StatusNotFound:
		sentinel = ErrNotFound
	default:
		return fmt.Errorf("the pruneguard audit API answered %s: %s", resp.Status, msg)
	}
	return fmt.Errorf("%s: %w", msg, sentinel)
}
