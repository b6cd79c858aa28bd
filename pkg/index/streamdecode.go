package index

import (
	"encoding/hex"
	"sync"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// decodeStream decodes a stream record (encodeStream). The planner decodes every stream of
// the cluster, tag histories included, so this is a hot path: at synth size L it was most of
// a full plan when each item cost two allocations (its digest and its pull spec) and each
// tag one. Here every string of a record shares one allocation: the decoder writes their
// bytes into a scratch buffer, remembering where each string goes, converts the buffer to
// one string at the end and hands out substrings of it. An item's digest is the tail of its
// pull spec when the spec ends in "@" + digest (the usual form), so it takes no bytes of its
// own. The Tags and Items slices are allocated as before; nothing returned aliases the record
// or the scratch buffer, which is reused.
func decodeStream(ns, name string, b []byte) (model.Stream, error) {
	d := streamDecoders.Get().(*streamDecoder)
	defer streamDecoders.Put(d)
	d.reset()
	s, err := d.decode(ns, name, b)
	if err != nil {
		return model.Stream{}, err
	}
	return s, nil
}

var streamDecoders = sync.Pool{New: func() any { return new(streamDecoder) }}

// streamDecoder is the scratch state of one decodeStream.
type streamDecoder struct {
	r recordReader
	// text holds the bytes of every string decoded so far; string i of the record (in the
	// order assign visits them) is text[spans[i].from:spans[i].to]. Spans, not pointers to
	// the destinations, so that filling the scratch costs no GC write barriers.
	text  []byte
	spans []textSpan
}

type textSpan struct{ from, to int }

func (d *streamDecoder) reset() { d.text, d.spans = d.text[:0], d.spans[:0] }

// put records the next string of the record: text[from:to].
func (d *streamDecoder) put(from, to int) { d.spans = append(d.spans, textSpan{from, to}) }

// str reads a string into the text.
func (d *streamDecoder) str() {
	n := d.r.uvarint()
	if n > uint64(len(d.r.b)) {
		d.r.bad = true
		return
	}
	from := len(d.text)
	d.text = append(d.text, d.r.take(int(n))...)
	d.put(from, len(d.text))
}

func (d *streamDecoder) decode(ns, name string, b []byte) (model.Stream, error) {
	d.r = recordReader{b: b}
	r := &d.r
	s := model.Stream{Namespace: ns, Name: name}
	s.Created = r.time()
	d.str()
	if n := r.count(2); n > 0 {
		s.Tags = make([]model.Tag, n)
		for i := range s.Tags {
			t := &s.Tags[i]
			d.str()
			if m := r.count(14); m > 0 {
				t.Items = make([]model.TagItem, m)
				for j := range t.Items {
					d.item(&t.Items[j])
				}
			}
		}
	}
	if r.bad || len(r.b) != 0 { // checked before naming the stream, which costs an allocation
		return model.Stream{}, r.done("image stream " + ns + "/" + name)
	}
	d.assign(&s)
	return s, nil
}

// assign gives s its strings, visiting them in the order decode read them: the resource
// version, then per tag its name and per item its pull spec and digest.
func (d *streamDecoder) assign(s *model.Stream) {
	text, k := string(d.text), 0
	next := func() string {
		sp := d.spans[k]
		k++
		return text[sp.from:sp.to]
	}
	s.ResourceVersion = next()
	for i := range s.Tags {
		t := &s.Tags[i]
		t.Name = next()
		for j := range t.Items {
			it := &t.Items[j]
			it.DockerImageReference = next()
			it.Image = next()
		}
	}
}

// item reads one tag-history item: digest, time, pull spec (records.go pullSpec), generation.
func (d *streamDecoder) item(it *model.TagItem) {
	r := &d.r
	var digestBuf [len(sha256Prefix) + sha256HexLen]byte
	digest := r.digestText(digestBuf[:0])
	it.Created = r.time()
	elided := r.bool()
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return
	}
	stored := r.take(int(n))
	from := len(d.text)
	d.text = append(d.text, stored...)
	if elided {
		if len(digest) == 0 {
			r.bad = true
		}
		d.text = append(append(d.text, '@'), digest...)
		d.put(from, len(d.text))
		d.put(len(d.text)-len(digest), len(d.text))
	} else {
		d.put(from, len(d.text))
		if len(digest) > 0 && hasDigestSuffix(stored, digest) {
			r.bad = true // such a spec has only the elided form
		}
		d.text = append(d.text, digest...)
		d.put(len(d.text)-len(digest), len(d.text))
	}
	it.Generation = r.varint()
}

// hasDigestSuffix reports whether spec ends in "@" + digest.
func hasDigestSuffix(spec, digest []byte) bool {
	k := len(spec) - len(digest)
	return k > 0 && spec[k-1] == '@' && string(spec[k:]) == string(digest)
}

// digestText appends the text of the digest at r (key encoding) to dst; what
// recordReader.digest returns, without its allocation.
func (r *recordReader) digestText(dst []byte) []byte {
	if r.bad {
		return dst
	}
	kr := keyReader{b: r.b}
	switch kr.u8() {
	case digestSHA256:
		if raw := kr.take(sha256ByteLen); raw != nil {
			dst = hex.AppendEncode(append(dst, sha256Prefix...), raw)
		}
	case digestRaw:
		n := int(kr.u16())
		if v := kr.take(n); v != nil {
			dst = append(dst, v...)
			if isCanonicalSHA256(string(v)) { // canonical digests have only the short form
				kr.bad = true
			}
		}
	default:
		kr.bad = true
	}
	if kr.bad {
		r.bad = true
		return dst
	}
	r.b = kr.b
	return dst
}
