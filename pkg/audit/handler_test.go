package audit

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// apiFixture serves the fixture index and a trail through the handler, with alice allowed to
// read namespace shop and admin allowed cluster-wide.
func apiFixture(t *testing.T) (*httptest.Server, *fakeReviews) {
	t.Helper()
	ix := fixture(t)
	tr := openTrail(t, t.TempDir())
	if err := tr.Append(context.Background(), Record{Time: t0, Action: ActionDeleted, Image: imgA}); err != nil {
		t.Fatal(err)
	}
	f := &fakeReviews{
		tokens: map[string]string{"alice-token": "alice", "admin-token": "admin"},
		allow: map[string]bool{
			"alice get imagestreams shop": true,
			"admin get images ":           true,
			"admin get /metrics":          true,
		},
	}
	authz := NewKubeAuthorizer(f, KubeAuthorizerOptions{})
	mux := http.NewServeMux()
	mux.Handle(APIPrefix, NewHandler(ix, authz, HandlerOptions{Trail: tr}))
	mux.Handle("/metrics", Protect(authz, MetricsAccess(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("pruneguard_fences_active 0\n"))
	})))
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	return srv, f
}

func get(t *testing.T, srv *httptest.Server, path string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = ioCopy(&b, resp)
	return resp.StatusCode, b.String()
}

func ioCopy(b *strings.Builder, resp *http.Response) (int64, error) {
	buf := make([]byte, 4096)
	var n int64
	for {
		k, err := resp.Body.Read(buf)
		b.Write(buf[:k])
		n += int64(k)
		if err != nil {
			return n, nil
		}
	}
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

func TestHandlerAccess(t *testing.T) {
	srv, _ := apiFixture(t)
	tests := []struct {
		name     string
		path     string
		header   http.Header
		want     int
		wantBody string
	}{
		{"no token is 401", "/audit/v1/refs?image=" + imgA, http.Header{}, 401, "bearer token is required"},
		{"a token the API server rejects is 401", "/audit/v1/refs?image=" + imgA, bearer("stolen"), 401, "not accepted"},
		{"a basic authorization header is no token", "/audit/v1/refs?image=" + imgA, http.Header{"Authorization": {"Basic YTpi"}}, 401, ""},
		{"a namespace user may query her namespace", "/audit/v1/refs?namespace=shop&image=" + imgA, bearer("alice-token"), 200, "web-1"},
		{"the proxy token header counts as a bearer token", "/audit/v1/refs?namespace=shop&image=" + imgA,
			http.Header{TokenHeader: {"alice-token"}}, 200, "web-1"},
		{"a namespace user may not query another namespace", "/audit/v1/refs?namespace=team&image=" + imgA, bearer("alice-token"), 403,
			"may not get imagestreams.image.openshift.io in namespace team"},
		{"a namespace user may not query the cluster", "/audit/v1/refs?image=" + imgA, bearer("alice-token"), 403, "at the cluster scope"},
		{"resolving a tag of another namespace needs that namespace", "/audit/v1/refs?namespace=shop&image=team/tools:latest",
			bearer("alice-token"), 403, "in namespace team"},
		{"an object of the user's namespace", "/audit/v1/refs?object=Pod/shop/web-1", bearer("alice-token"), 200, imgA},
		{"an object of another namespace", "/audit/v1/refs?object=Pod/team/job-1", bearer("alice-token"), 403, ""},
		{"images of the user's namespace", "/audit/v1/images?namespace=shop&filter=referenced", bearer("alice-token"), 200, imgC},
		{"images of the cluster need get images", "/audit/v1/images", bearer("alice-token"), 403, ""},
		{"the cluster admin may list every image", "/audit/v1/images?filter=unreferenced", bearer("admin-token"), 200, imgD},
		{"history of the cluster", "/audit/v1/history?image=" + imgA, bearer("admin-token"), 200, `"action":"deleted"`},
		{"history without image", "/audit/v1/history", bearer("admin-token"), 400, "image is required"},
		{"refs with neither image nor object", "/audit/v1/refs", bearer("admin-token"), 400, "exactly one"},
		{"a bad image is 400", "/audit/v1/refs?image=nginx", bearer("admin-token"), 400, "names no image stream"},
		{"a bad limit is 400", "/audit/v1/images?limit=x", bearer("admin-token"), 400, "limit"},
		{"an unknown object is 404", "/audit/v1/refs?object=Pod/shop/none", bearer("admin-token"), 404, "not in the index"},
		{"metrics need get /metrics", "/metrics", bearer("alice-token"), 403, ""},
		{"metrics for a reader", "/metrics", bearer("admin-token"), 200, "pruneguard_fences_active"},
		{"metrics without a token", "/metrics", http.Header{}, 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := get(t, srv, tt.path, tt.header)
			if code != tt.want || !strings.Contains(body, tt.wantBody) {
				t.Errorf("GET %s: %d %s; want %d containing %q", tt.path, code, body, tt.want, tt.wantBody)
			}
		})
	}
}

func TestHandlerRefusesOtherMethods(t *testing.T) {
	srv, _ := apiFixture(t)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+PathImages, nil)
	req.Header = bearer("admin-token")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
}

func TestUnauthorizedAnswerNamesTheScheme(t *testing.T) {
	srv, _ := apiFixture(t)
	resp, err := srv.Client().Get(srv.URL + PathImages)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
	}
}

func TestClientAnswersAsLocal(t *testing.T) {
	srv, _ := apiFixture(t)
	ctx := context.Background()
	c := NewClient(ClientOptions{BaseURL: srv.URL, Token: "admin-token", HTTPClient: srv.Client()})
	local := NewLocal(fixture(t), nil)
	for _, image := range []string{imgA, imgB, "shop/web:v1", "shop/web:v9"} {
		remote, err := AllReferrers(ctx, c, ImageQuery{Image: image}, 1)
		if err != nil {
			t.Fatal(err)
		}
		want, err := local.Referrers(ctx, ImageQuery{Image: image})
		if err != nil {
			t.Fatal(err)
		}
		equal(t, image, referrerNames(remote.Referrers), referrerNames(want.Referrers))
		if remote.Image != want.Image {
			t.Errorf("%s: remote image %q, local %q", image, remote.Image, want.Image)
		}
	}
	list, err := AllImages(ctx, c, ImagesQuery{}, 1)
	if err != nil || len(list.Images) != 4 {
		t.Errorf("images in pages of one: %d, %v; want 4", len(list.Images), err)
	}
	for name, want := range map[string]error{"alice-token": ErrForbidden, "nope": ErrUnauthorized} {
		c := NewClient(ClientOptions{BaseURL: srv.URL, Token: name, HTTPClient: srv.Client()})
		if _, err := c.Images(ctx, ImagesQuery{}); !errors.Is(err, want) {
			t.Errorf("token %s: err = %v, want %v", name, err, want)
		}
	}
	if _, err := c.ObjectImages(ctx, ObjectQuery{Object: "Pod/shop/none"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown object: err = %v, want ErrNotFound", err)
	}
}

func TestHandlerReusesReviewsWithinTheTTL(t *testing.T) {
	srv, f := apiFixture(t)
	for range 5 {
		if code, _ := get(t, srv, "/audit/v1/refs?namespace=shop&image="+imgA, bearer("alice-token")); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	if f.count() != 2 {
		t.Errorf("5 requests made %d reviews, want 2 (one TokenReview, one SubjectAccessReview)", f.count())
	}
}
