package registry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeRegistry records the requests it gets and answers with the status its routes give.
type fakeRegistry struct {
	mu       sync.Mutex
	requests []string
	auth     []string
	admin    int // status of DELETE /admin/blobs/...; 0 means 404 (no such route)
	deletes  int // status of v2 deletes; 0 means 202
	ping     int // status of GET /v2/; 0 means 200
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.mu.Unlock()
	code := http.StatusNotFound
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v2/":
		code = orDefault(f.ping, http.StatusOK)
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/admin/blobs/"):
		code = orDefault(f.admin, http.StatusNotFound)
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/v2/"):
		code = orDefault(f.deletes, http.StatusAccepted)
	}
	w.WriteHeader(code)
	if code >= 400 {
		_, _ = w.Write([]byte(`{"errors":[{"code":"UNSUPPORTED"}]}`))
	}
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func (f *fakeRegistry) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

const (
	layer    = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	manifest = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

func TestDialects(t *testing.T) {
	tests := []struct {
		name        string
		admin       int
		wantDialect Dialect
		wantBlob    error
		wantLast    string
	}{
		{"a registry whose /admin/blobs accepts a delete is the OpenShift registry and blobs are deleted there",
			http.StatusNoContent, DialectOpenShift, nil, "DELETE /admin/blobs/" + layer},
		{"a registry without /admin is a distribution registry and its blobs are left to its garbage collector",
			0, DialectDistribution, ErrNoAdminAPI, "DELETE /v2/ns/app/manifests/" + manifest},
		{"a registry answering 405 on /admin is a distribution registry",
			http.StatusMethodNotAllowed, DialectDistribution, ErrNoAdminAPI, "DELETE /v2/ns/app/manifests/" + manifest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := &fakeRegistry{admin: tt.admin}
			srv := httptest.NewServer(f)
			defer srv.Close()
			c, err := Connect(ctx, Options{Host: srv.URL, Token: "secret"})
			if err != nil {
				t.Fatal(err)
			}
			if c.Dialect() != tt.wantDialect {
				t.Fatalf("dialect = %q, want %q", c.Dialect(), tt.wantDialect)
			}
			if err := c.DeleteLayerLink(ctx, "ns/app", layer); err != nil {
				t.Fatal(err)
			}
			if err := c.DeleteManifestLink(ctx, "ns/app", manifest); err != nil {
				t.Fatal(err)
			}
			if err := c.DeleteBlob(ctx, layer); !errors.Is(err, tt.wantBlob) {
				t.Fatalf("DeleteBlob = %v, want %v", err, tt.wantBlob)
			}
			got := f.got()
			if got[len(got)-1] != tt.wantLast {
				t.Errorf("last request = %q, want %q (all: %v)", got[len(got)-1], tt.wantLast, got)
			}
			for i, a := range f.auth {
				if a != "Bearer secret" {
					t.Errorf("request %s sent Authorization %q, want the bearer token", got[i], a)
				}
			}
		})
	}
}

func TestDeleteStatuses(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		wantErr bool
	}{
		{"202 Accepted is success", http.StatusAccepted, false},
		{"a link already gone (404) is success", http.StatusNotFound, false},
		{"a registry refusing deletes (405) is an error naming the URL", http.StatusMethodNotAllowed, true},
		{"a registry failing (500) is an error", http.StatusInternalServerError, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeRegistry{deletes: tt.status}
			srv := httptest.NewServer(f)
			defer srv.Close()
			c, err := Connect(context.Background(), Options{Host: srv.URL, Dialect: DialectDistribution})
			if err != nil {
				t.Fatal(err)
			}
			err = c.DeleteLayerLink(context.Background(), "ns/app", layer)
			if (err != nil) != tt.wantErr {
				t.Fatalf("DeleteLayerLink = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "/v2/ns/app/blobs/"+layer) {
				t.Errorf("error %q does not name the URL", err)
			}
			for _, a := range f.auth {
				if a != "" {
					t.Errorf("sent Authorization %q without a token", a)
				}
			}
		})
	}
}
