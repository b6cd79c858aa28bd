package audit

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// Local answers the audit queries from an index (any model.Reader: the live index of
// `serve`, or the temporary index of a dump) and, for History, a trail.
type Local struct {
	r     model.Reader
	trail TrailReader
	// canRead, when set, says in which namespaces tags may be resolved (ObjectImages); the
	// API sets it per request from the caller's rights.
	canRead func(ctx context.Context, namespace string) bool
}

// TrailReader reads the audit trail; *Trail implements it.
type TrailReader interface {
	// Records returns the records of image after the cursor (oldest first), at most limit
	// when limit > 0, and the cursor of the last one returned when more follow.
	Records(ctx context.Context, image, cursor string, limit int, keep func(Record) bool) ([]Record, string, error)
}

var (
	_ Source      = (*Local)(nil)
	_ TrailReader = (*Trail)(nil)
)

// NewLocal returns a Source over r and trail; trail may be nil, and History then fails with
// ErrNotFound.
func NewLocal(r model.Reader, trail TrailReader) *Local { return &Local{r: r, trail: trail} }

// Referrers implements Source. The answer lists, deduplicated and sorted by namespace, kind,
// name and field: the references naming the image's digest (under any repository or none);
// the references naming any tag whose current item (item 0) is the image; and, when the
// query named a tag, the references naming that tag even when it holds no image.
func (l *Local) Referrers(ctx context.Context, q ImageQuery) (*ImageReferrers, error) {
	arg, err := parseImageArg(q.Image)
	if err != nil {
		return nil, err
	}
	if arg, err = arg.resolve(ctx, l.r); err != nil {
		return nil, err
	}
	out := &ImageReferrers{Query: q.Image, Image: arg.Digest, StreamItems: []model.StreamItem{}}
	if arg.Repo != "" {
		out.Tag = arg.Repo + ":" + arg.Tag
	}
	set := referrerSet{}
	if arg.Repo != "" {
		if err := set.addTag(ctx, l.r, arg.Repo, arg.Tag); err != nil {
			return nil, err
		}
	}
	if arg.Digest != "" {
		items, err := l.r.StreamItemsOfImage(ctx, "", arg.Digest)
		if err != nil {
			return nil, err
		}
		if err := set.addImage(ctx, l.r, arg.Digest, items); err != nil {
			return nil, err
		}
		for _, it := range items {
			if q.Namespace == "" || repoNamespace(it.Repo) == q.Namespace {
				out.StreamItems = append(out.StreamItems, it)
			}
		}
	}
	rows := set.sorted(q.Namespace)
	out.Referrers, out.Continue, err = pageRows(rows, q.Page, referrerCursor)
	return out, err
}

// referrerSet collects Referrers keyed by object, field and state, so that a reference met
// through the digest and through a tag is listed once.
type referrerSet map[string]Referrer

func (s referrerSet) add(refs []model.Referrer, via, tag string) {
	for _, r := range refs {
		row := Referrer{Object: r.Object, Container: r.Ref.Container, FieldPath: r.Ref.FieldPath,
			Reference: r.Ref.Raw, Via: via, Tag: tag, State: StateConfirmed, Since: r.Since,
			Created: r.Created, Phase: r.Phase, PruneguardOnly: r.Ref.Extra}
		if r.Pending {
			row.State = StatePending
		}
		key := referrerCursor(row)
		if _, seen := s[key]; !seen {
			s[key] = row
		}
	}
}

func (s referrerSet) addTag(ctx context.Context, r model.Reader, repo, tag string) error {
	refs, err := r.ReferrersOfTag(ctx, repo, tag)
	if err != nil {
		return err
	}
	s.add(refs, ViaTag, repo+":"+tag)
	return nil
}

// addImage adds the references to digest and to the tags whose current item holds it.
func (s referrerSet) addImage(ctx context.Context, r model.Reader, digest string, items []model.StreamItem) error {
	refs, err := r.ReferrersOfDigest(ctx, "", digest)
	if err != nil {
		return err
	}
	s.add(refs, ViaDigest, "")
	for _, it := range items {
		if it.Position != 0 {
			continue
		}
		if err := s.addTag(ctx, r, it.Repo, it.Tag); err != nil {
			return err
		}
	}
	return nil
}

// sorted returns the referrers of namespace ("" for all) in cursor order.
func (s referrerSet) sorted(namespace string) []Referrer {
	rows := make([]Referrer, 0, len(s))
	for _, r := range s {
		if namespace == "" || r.Object.Namespace == namespace {
			rows = append(rows, r)
		}
	}
	slices.SortFunc(rows, func(a, b Referrer) int { return cmp.Compare(referrerCursor(a), referrerCursor(b)) })
	return rows
}

// referrerCursor orders referrers and identifies them in continue tokens. NUL separates the
// components: no Kubernetes name or field path contains it.
func referrerCursor(r Referrer) string {
	return r.Object.Namespace + "\x00" + r.Object.Kind + "\x00" + r.Object.Name + "\x00" +
		r.FieldPath + "\x00" + r.State
}

// pageRows returns the rows after the token's cursor, at most p.Limit of them, and the token
// of the next page. Rows must be sorted by cursor; a cursor that no longer exists (its row
// went away) still positions the page correctly.
func pageRows[T any](rows []T, p Page, cursor func(T) string) ([]T, string, error) {
	if p.Continue != "" {
		after, err := decodeToken(p.Continue)
		if err != nil {
			return nil, "", err
		}
		i, _ := slices.BinarySearchFunc(rows, after, func(r T, c string) int { return cmp.Compare(cursor(r), c) })
		for i < len(rows) && cursor(rows[i]) <= after {
			i++
		}
		rows = rows[i:]
	}
	if p.Limit <= 0 || len(rows) <= p.Limit {
		return rows, "", nil
	}
	rows = rows[:p.Limit]
	return rows, encodeToken(cursor(rows[len(rows)-1])), nil
}

// History implements Source: the trail records of the image, oldest first. In a namespace
// scope only the records about a stream item or a referrer of the namespace are listed, each
// with the referrers of the namespace only.
func (l *Local) History(ctx context.Context, q HistoryQuery) (*History, error) {
	if l.trail == nil {
		return nil, fmt.Errorf("no audit trail is available here: %w", ErrNotFound)
	}
	arg, err := parseImageArg(q.Image)
	if err != nil {
		return nil, err
	}
	switch {
	case l.r != nil:
		if arg, err = arg.resolve(ctx, l.r); err != nil {
			return nil, err
		}
	case arg.Digest == "":
		return nil, fmt.Errorf("image %q names a tag, and no index is available to resolve it: pass the digest: %w", q.Image, ErrInvalidArgument)
	}
	out := &History{Query: q.Image, Image: arg.Digest, Records: []Record{}}
	if arg.Digest == "" {
		return out, nil
	}
	cursor := ""
	if q.Continue != "" {
		if cursor, err = decodeToken(q.Continue); err != nil {
			return nil, err
		}
	}
	var keep func(Record) bool
	if q.Namespace != "" {
		keep = func(r Record) bool { return r.inNamespace(q.Namespace) }
	}
	recs, next, err := l.trail.Records(ctx, arg.Digest, cursor, q.Limit, keep)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if q.Namespace != "" {
			r = r.narrowed(q.Namespace)
		}
		out.Records = append(out.Records, r)
	}
	if next != "" {
		out.Continue = encodeToken(next)
	}
	return out, nil
}
