package index

import (
	"strings"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// The value of a reverse entry (d and t keys) is everything a model.Referrer holds beyond
// what its key holds, so that "who references D?" is one prefix scan with no read of the
// object records:
//
//	str(Container) path(FieldPath) kind(Ref.Kind) [str(Ref.Tag), digest entries only]
//	raw(Ref.Raw) bool(Ref.Extra)
//
// str is as in records.go. kind is refKindCodes' one-byte code, or 0 and a str. path is a
// field path in its compact form (refforms.go). raw stores the pull spec without the match
// keys the key already holds (rawForm), a known registry host as a code (rawHost). The
// object's Created, Since and Phase are not in the entry: a lookup takes them from the
// in-memory table of object states (objstates.go), so that a change of them rewrites the
// record alone.

// refKindCodes gives the reference kinds a one-byte code; append-only within a schema version.
var refKindCodes = map[model.RefKind]byte{
	model.RefDockerImage: 1, model.RefImageStreamTag: 2, model.RefImageStreamImage: 3,
}

var refKindNames = func() map[byte]model.RefKind {
	m := make(map[byte]model.RefKind, len(refKindCodes))
	for name, code := range refKindCodes {
		m[code] = name
	}
	return m
}()

// Forms of a pull spec in a reverse entry: the spec is the stored string followed by what the
// form names. The encoder picks the first form that applies, in this order, so each spec has
// one encoding.
const (
	rawRepoDigest byte = 1 // + "/" + repo + "@" + digest
	rawDigest     byte = 2 // + "@" + digest
	rawRepoTag    byte = 3 // + "/" + repo + ":" + tag
	rawTag        byte = 4 // + ":" + tag
	rawVerbatim   byte = 5
)

// rawSuffix is what form appends to the stored string of a spec with those match keys, as
// up to four parts; ok is false when the form does not apply to them.
func rawSuffix(form byte, repo, tag, digest string) (parts [4]string, n int, ok bool) {
	switch form {
	case rawRepoDigest:
		return [4]string{"/", repo, "@", digest}, 4, digest != "" && repo != ""
	case rawDigest:
		return [4]string{"@", digest}, 2, digest != ""
	case rawRepoTag:
		return [4]string{"/", repo, ":", tag}, 4, tag != "" && repo != ""
	case rawTag:
		return [4]string{":", tag}, 2, tag != ""
	}
	return parts, 0, form == rawVerbatim
}

// cutSuffixParts returns spec without the parts at its end, and whether they were there.
func cutSuffixParts(spec string, parts []string) (string, bool) {
	for i := len(parts) - 1; i >= 0; i-- {
		var ok bool
		if spec, ok = strings.CutSuffix(spec, parts[i]); !ok {
			return "", false
		}
	}
	return spec, true
}

// rawForm picks the form of spec and returns its stored part.
func rawForm(spec, repo, tag, digest string) (byte, string) {
	for form := rawRepoDigest; form < rawVerbatim; form++ {
		if parts, n, ok := rawSuffix(form, repo, tag, digest); ok {
			if stored, ok := cutSuffixParts(spec, parts[:n]); ok {
				return form, stored
			}
		}
	}
	return rawVerbatim, spec
}

func (w recordWriter) refKind(k model.RefKind) recordWriter {
	if code, ok := refKindCodes[k]; ok {
		return w.u8(code)
	}
	return w.u8(0).str(string(k))
}

func (r *recordReader) refKind() model.RefKind {
	code := r.u8()
	if code != 0 {
		k, ok := refKindNames[code]
		if !ok {
			r.bad = true
		}
		return k
	}
	k := model.RefKind(r.str())
	if _, known := refKindCodes[k]; known {
		r.bad = true // known kinds have only the coded form
	}
	return k
}

// rawSpec writes ref's pull spec in its form (rawForm).
func (w recordWriter) rawSpec(ref *model.Ref) recordWriter {
	return w.rawHost(rawForm(ref.Raw, ref.Repo, ref.Tag, ref.Digest))
}

// rawSpec reads a pull spec written by rawSpec for a reference with these match keys.
func (r *recordReader) rawSpec(repo, tag, digest string) string {
	form, stored := r.rawHost()
	parts, _, ok := rawSuffix(form, repo, tag, digest)
	spec := stored + parts[0] + parts[1] + parts[2] + parts[3]
	if !ok {
		r.bad = true
	} else if canonical, _ := rawForm(spec, repo, tag, digest); canonical != form {
		r.bad = true // the encoder would have picked another form
	}
	return spec
}

// encodeRefValue encodes the value of the reverse entry of ref.
func encodeRefValue(ref *model.Ref) []byte {
	return appendRefValue(make([]byte, 0, refValueCap(ref)), ref)
}

// refValueCap estimates the length of the value of the reverse entry of ref.
func refValueCap(ref *model.Ref) int {
	return 8 + len(ref.FieldPath) + len(ref.Container) + len(ref.Raw) + len(ref.Tag)
}

// appendRefValue appends encodeRefValue's value to b.
func appendRefValue(b []byte, ref *model.Ref) []byte {
	w := recordWriter(b)
	w = w.str(ref.Container).fieldPath(ref.FieldPath, ref.Container).refKind(ref.Kind)
	if ref.Digest != "" {
		w = w.str(ref.Tag)
	}
	return w.rawSpec(ref).bool(ref.Extra)
}

// decodeRefValue decodes the value of the reverse entry whose parsed key is p into a referrer,
// without the fields of its object (Created, Since, Phase: see objectStates.fill).
func decodeRefValue(p *parsedKey, b []byte) (model.Referrer, error) {
	r := &recordReader{b: b}
	ref := model.Referrer{Object: p.Object, Pending: p.State == statePending,
		Ref: model.Ref{Repo: p.Repo, Tag: p.Tag, Digest: p.Digest}}
	ref.Ref.Container = r.str()
	ref.Ref.FieldPath, ref.Ref.Kind = r.fieldPath(ref.Ref.Container), r.refKind()
	if p.Prefix == prefixRefDigest {
		ref.Ref.Tag = r.str()
	}
	ref.Ref.Raw, ref.Ref.Extra = r.rawSpec(ref.Ref.Repo, ref.Ref.Tag, ref.Ref.Digest), r.bool()
	if err := r.done("reference entry of " + p.Object.String()); err != nil {
		return model.Referrer{}, err
	}
	return ref, nil
}

// sameRefValue reports whether a reference's entry value is the same for a as for b, without
// encoding either.
func sameRefValue(a, b *model.Ref) bool {
	return a.FieldPath == b.FieldPath && a.Container == b.Container && a.Kind == b.Kind &&
		a.Raw == b.Raw && a.Extra == b.Extra && a.Tag == b.Tag
}
