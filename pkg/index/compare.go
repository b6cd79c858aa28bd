package index

import (
	"fmt"
	"strings"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// fieldDiff is one field of a record that differs between two indexes.
type fieldDiff struct{ field, a, b string }

// recordDiffs decodes two values of the same key and lists the fields that differ, ignoring
// those that legitimately differ between indexes (see Diff).
func recordDiffs(p parsedKey, va, vb []byte) ([]fieldDiff, error) {
	switch p.Prefix {
	case prefixObject, prefixPending:
		a, err := decodeObject(p.Object, va)
		if err != nil {
			return nil, err
		}
		b, err := decodeObject(p.Object, vb)
		if err != nil {
			return nil, err
		}
		return objectDiffs(a, b), nil
	case prefixImage:
		a, err := decodeImage(p.Digest, va)
		if err != nil {
			return nil, err
		}
		b, err := decodeImage(p.Digest, vb)
		if err != nil {
			return nil, err
		}
		return imageDiffs(a, b), nil
	case prefixStream:
		a, err := decodeStream(p.NS, p.Name, va)
		if err != nil {
			return nil, err
		}
		b, err := decodeStream(p.NS, p.Name, vb)
		if err != nil {
			return nil, err
		}
		return streamDiffs(a, b), nil
	case prefixRefDigest, prefixRefTag:
		a, err := decodeRefValue(&p, va)
		if err != nil {
			return nil, err
		}
		b, err := decodeRefValue(&p, vb)
		if err != nil {
			return nil, err
		}
		return referrerDiffs(a, b), nil
	case prefixBlobCount, prefixRepoBlobCount:
		a, err := decodeCount(va)
		if err != nil {
			return nil, err
		}
		b, err := decodeCount(vb)
		if err != nil {
			return nil, err
		}
		return differing(fieldDiff{"count", fmt.Sprint(a), fmt.Sprint(b)}), nil
	case prefixLimitRange:
		a, err := decodeLimitRange(p.NS, p.Name, va)
		if err != nil {
			return nil, err
		}
		b, err := decodeLimitRange(p.NS, p.Name, vb)
		if err != nil {
			return nil, err
		}
		return differing(fieldDiff{"max image size", fmt.Sprint(a.MaxImageSize), fmt.Sprint(b.MaxImageSize)}), nil
	}
	return []fieldDiff{{"value", fmt.Sprintf("%x", va), fmt.Sprintf("%x", vb)}}, nil
}

// differing keeps the pairs whose sides differ.
func differing(fs ...fieldDiff) []fieldDiff {
	var out []fieldDiff
	for _, f := range fs {
		if f.a != f.b {
			out = append(out, f)
		}
	}
	return out
}

func showTime(t time.Time) string {
	if t.IsZero() {
		return "(none)"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func objectDiffs(a, b storedObject) []fieldDiff {
	return differing(
		fieldDiff{"created", showTime(a.Created), showTime(b.Created)},
		fieldDiff{"phase", a.Phase, b.Phase},
		fieldDiff{"uid", a.UID, b.UID},
		fieldDiff{"expires", showTime(a.Expires), showTime(b.Expires)},
		fieldDiff{"refs", showRefs(a.Refs), showRefs(b.Refs)},
	)
}

// referrerDiffs compares two values of one reverse entry; Since is ignored as in objectDiffs.
func referrerDiffs(a, b model.Referrer) []fieldDiff {
	return differing(
		fieldDiff{"created", showTime(a.Created), showTime(b.Created)},
		fieldDiff{"phase", a.Phase, b.Phase},
		fieldDiff{"ref", showRefs([]model.Ref{a.Ref}), showRefs([]model.Ref{b.Ref})},
	)
}

func showRefs(refs []model.Ref) string {
	parts := make([]string, len(refs))
	for i, r := range refs {
		s := r.FieldPath + "=" + r.Raw
		switch {
		case r.Invalid != "":
			s += " (invalid: " + r.Invalid + ")"
		case r.Digest != "":
			s += " (" + r.Repo + "@" + r.Digest + ")"
		default:
			s += " (" + r.Repo + ":" + r.Tag + ")"
		}
		if r.Extra {
			s += " extra"
		}
		if r.Container != "" || r.Kind != "" {
			s += " [" + string(r.Kind) + " " + r.Container + "]"
		}
		parts[i] = s
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func imageDiffs(a, b model.Image) []fieldDiff {
	return differing(
		fieldDiff{"created", showTime(a.Created), showTime(b.Created)},
		fieldDiff{"managed", fmt.Sprint(a.Managed), fmt.Sprint(b.Managed)},
		fieldDiff{"size", fmt.Sprint(a.Size), fmt.Sprint(b.Size)},
		fieldDiff{"dockerImageReference", a.DockerImageReference, b.DockerImageReference},
		fieldDiff{"manifestMediaType", a.ManifestMediaType, b.ManifestMediaType},
		fieldDiff{"layers", showLayers(a.Layers), showLayers(b.Layers)},
		fieldDiff{"config", a.Config, b.Config},
		fieldDiff{"children", strings.Join(a.Children, ","), strings.Join(b.Children, ",")},
	)
}

func showLayers(ls []model.Blob) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = fmt.Sprintf("%s/%d/%s", l.Digest, l.Size, l.MediaType)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func streamDiffs(a, b model.Stream) []fieldDiff {
	out := differing(fieldDiff{"created", showTime(a.Created), showTime(b.Created)})
	tagsA, tagsB := showTags(a), showTags(b)
	for _, t := range a.Tags {
		if tagsA[t.Name] != tagsB[t.Name] {
			out = append(out, fieldDiff{"tag " + t.Name, orNone(tagsA[t.Name]), orNone(tagsB[t.Name])})
		}
	}
	for _, t := range b.Tags {
		if _, ok := tagsA[t.Name]; !ok {
			out = append(out, fieldDiff{"tag " + t.Name, "(none)", tagsB[t.Name]})
		}
	}
	return out
}

func showTags(s model.Stream) map[string]string {
	out := make(map[string]string, len(s.Tags))
	for _, t := range s.Tags {
		items := make([]string, len(t.Items))
		for i, it := range t.Items {
			items[i] = fmt.Sprintf("%s@%s", it.Image, showTime(it.Created))
		}
		out[t.Name] = "[" + strings.Join(items, " ") + "]"
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
