package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-logr/logr"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// API paths, under APIPrefix. Every endpoint takes GET with query parameters limit and
// continue, and answers with the JSON of the matching Source result:
//
//	GET /audit/v1/refs?image=IMAGE[&namespace=NS]        -> ImageReferrers
//	GET /audit/v1/refs?object=KIND/NAMESPACE/NAME         -> ObjectImages
//	GET /audit/v1/images?filter=all|referenced|unreferenced[&namespace=NS] -> ImageList
//	GET /audit/v1/history?image=IMAGE[&namespace=NS]     -> History
//
// Errors are {"code": N, "reason": "...", "message": "..."} with status 400 (bad argument or
// token), 401, 403, 404 (object not indexed, no trail), 405 or 500.
const (
	APIPrefix   = "/audit/v1/"
	PathRefs    = APIPrefix + "refs"
	PathImages  = APIPrefix + "images"
	PathHistory = APIPrefix + "history"
)

// Defaults of HandlerOptions.
const (
	// DefaultPageSize is the page size of a request without limit.
	DefaultPageSize = 500
	// MaxPageSize caps limit, so that one request cannot make the server build an answer
	// of unbounded size.
	MaxPageSize = 5000
)

// HandlerOptions configure NewHandler.
type HandlerOptions struct {
	// Trail answers history; nil answers it with 404.
	Trail TrailReader
	// Logger receives a debug line per request and an error line per failed query.
	Logger logr.Logger
	// DefaultLimit and MaxLimit override DefaultPageSize and MaxPageSize.
	DefaultLimit, MaxLimit int
}

type handler struct {
	r     model.Reader
	authz Authorizer
	o     HandlerOptions
}

// NewHandler returns the audit API over reader (the index of serve), authenticating and
// authorising every request through authz (see the package comment for the rules). serve
// mounts it on its HTTPS API port: mux.Handle(audit.APIPrefix, h).
func NewHandler(reader model.Reader, authz Authorizer, o HandlerOptions) http.Handler {
	if o.DefaultLimit <= 0 {
		o.DefaultLimit = DefaultPageSize
	}
	if o.MaxLimit <= 0 {
		o.MaxLimit = MaxPageSize
	}
	h := &handler{r: reader, authz: authz, o: o}
	mux := http.NewServeMux()
	mux.HandleFunc(PathRefs, h.serve(h.refs))
	mux.HandleFunc(PathImages, h.serve(h.images))
	mux.HandleFunc(PathHistory, h.serve(h.history))
	return mux
}

// request is one authenticated API call.
type request struct {
	http  *http.Request
	user  User
	page  Page
	param func(string) string
}

// endpoint authorises a request and answers it, or returns an error for writeQueryError.
// It returns (nil, nil) when it has already written a refusal.
type endpoint func(w http.ResponseWriter, req request) (any, error)

func (h *handler) serve(ep endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			writeError(w, http.StatusMethodNotAllowed, "only GET is served")
			return
		}
		user, ok := authenticate(w, r, h.authz)
		if !ok {
			return
		}
		q := r.URL.Query()
		page, err := h.page(q.Get("limit"), q.Get("continue"))
		if err != nil {
			writeQueryError(w, err, h.o.Logger)
			return
		}
		h.o.Logger.V(1).Info("audit API request", "user", user.Name, "path", r.URL.Path, "query", r.URL.RawQuery)
		res, err := ep(w, request{http: r, user: user, page: page, param: q.Get})
		switch {
		case err != nil:
			writeQueryError(w, err, h.o.Logger)
		case res != nil:
			writeJSON(w, http.StatusOK, res)
		}
	}
}

func (h *handler) page(limit, cont string) (Page, error) {
	p := Page{Limit: h.o.DefaultLimit, Continue: cont}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 0 {
			return p, fmt.Errorf("limit %q is not a non-negative integer: %w", limit, ErrInvalidArgument)
		}
		if n > 0 {
			p.Limit = n
		}
	}
	p.Limit = min(p.Limit, h.o.MaxLimit)
	return p, nil
}

func (h *handler) refs(w http.ResponseWriter, req request) (any, error) {
	image, object := req.param("image"), req.param("object")
	switch {
	case (image == "") == (object == ""):
		return nil, fmt.Errorf("pass exactly one of the parameters image and object: %w", ErrInvalidArgument)
	case object != "":
		return h.objectRefs(w, req, object)
	}
	ns := req.param("namespace")
	if !h.authorizeImage(w, req, image, ns) {
		return nil, nil
	}
	return NewLocal(h.r, nil).Referrers(req.http.Context(), ImageQuery{Image: image, Namespace: ns, Page: req.page})
}

// authorizeImage checks the scope of a query about image and, when image names a tag of a
// stream in another namespace, the right to read that stream. A malformed image is left to
// the query, which reports it.
func (h *handler) authorizeImage(w http.ResponseWriter, req request, image, ns string) bool {
	checks := []requirement{scopeAccess(ns)}
	if arg, err := parseImageArg(image); err == nil && ns != "" {
		if sns := arg.StreamNamespace(); sns != "" && sns != ns {
			checks = append(checks, scopeAccess(sns))
		}
	}
	return authorize(w, req.http, h.authz, req.user, checks...)
}

func (h *handler) objectRefs(w http.ResponseWriter, req request, object string) (any, error) {
	key, err := ParseObjectKey(object)
	if err != nil {
		return nil, err
	}
	if !authorize(w, req.http, h.authz, req.user, scopeAccess(key.Namespace)) {
		return nil, nil
	}
	l := NewLocal(h.r, nil)
	if key.Namespace != "" {
		l.canRead = func(ctx context.Context, ns string) bool { return h.mayRead(ctx, req.user, key.Namespace, ns) }
	}
	return l.ObjectImages(req.http.Context(), ObjectQuery{Object: object, Page: req.page})
}

// mayRead reports whether user, allowed in namespace scope, may also read the streams of ns;
// a failed review counts as no.
func (h *handler) mayRead(ctx context.Context, user User, scope, ns string) bool {
	if ns == scope {
		return true
	}
	ok, _, err := satisfied(ctx, h.authz, user, scopeAccess(ns))
	return err == nil && ok
}

func (h *handler) images(w http.ResponseWriter, req request) (any, error) {
	ns := req.param("namespace")
	if !authorize(w, req.http, h.authz, req.user, scopeAccess(ns)) {
		return nil, nil
	}
	return NewLocal(h.r, nil).Images(req.http.Context(), ImagesQuery{Filter: req.param("filter"), Namespace: ns, Page: req.page})
}

func (h *handler) history(w http.ResponseWriter, req request) (any, error) {
	image, ns := req.param("image"), req.param("namespace")
	if image == "" {
		return nil, fmt.Errorf("parameter image is required: %w", ErrInvalidArgument)
	}
	if !h.authorizeImage(w, req, image, ns) {
		return nil, nil
	}
	return NewLocal(h.r, h.o.Trail).History(req.http.Context(), HistoryQuery{Image: image, Namespace: ns, Page: req.page})
}

// apiError is the body of every error answer.
type apiError struct {
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="pruneguard"`)
	}
	writeJSON(w, code, apiError{Code: code, Reason: http.StatusText(code), Message: msg})
}

func writeQueryError(w http.ResponseWriter, err error, log logr.Logger) {
	switch {
	case errors.Is(err, ErrInvalidArgument):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	default:
		log.Error(err, "audit query failed")
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to tell it
}
