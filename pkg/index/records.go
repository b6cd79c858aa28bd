package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// Values of record keys (o, p, i, s, l), reverse entries (d, t; refvalue.go) and counters
// (c, r). The encoding is positional and compact: a uvarint length before each string and a
// uvarint count before each list (minimal encodings only), i64 unix nanoseconds for times
// (zeroTime for the zero time), zig-zag varints for sizes and generations, one byte per bool,
// a uvarint per counter. More forms keep the records small, because the pages a lookup
// touches are what the process keeps resident: digests take the key encoding (33 bytes for
// sha256), well-known media types and reference kinds a one-byte code, an image's pull spec
// that ends in "@" + its digest only its part before the "@", and a reference's pull spec
// only what its match keys do not say (rawForm), a reference's field path and a well-known
// registry host a one-byte code (refforms.go). Each reference of an object record is preceded
// by its encoded length, so that an update can compare the old and new encodings of each
// reference without decoding them (recordRefs). A change of any record's layout is a change
// of SchemaVersion.

// zeroTime stands for time.Time{}, which has no unix-nanosecond representation.
const zeroTime = math.MinInt64

// storedObject is a referrer as recorded: the model object plus when the index first saw it
// and, for pending records, when they expire.
type storedObject struct {
	model.Object
	Since   time.Time
	Expires time.Time
}

type recordWriter []byte

func (w recordWriter) u8(v byte) recordWriter { return append(w, v) }

func (w recordWriter) uvarint(v uint64) recordWriter { return binary.AppendUvarint(w, v) }

func (w recordWriter) varint(v int64) recordWriter { return binary.AppendVarint(w, v) }

func (w recordWriter) i64(v int64) recordWriter {
	return binary.BigEndian.AppendUint64(w, uint64(v))
}

func (w recordWriter) str(s string) recordWriter { return append(w.uvarint(uint64(len(s))), s...) }

// digest writes d in the key encoding; digests longer than maxKeyString are not indexed and
// never reach a record.
func (w recordWriter) digest(d string) recordWriter { return appendDigest(w, d) }

func (w recordWriter) mediaType(m string) recordWriter {
	if code, ok := mediaTypeCodes[m]; ok {
		return w.u8(code)
	}
	return w.u8(0).str(m)
}

// pullSpec writes spec, eliding a trailing "@" + digest.
func (w recordWriter) pullSpec(spec, digest string) recordWriter {
	if digest != "" && len(spec) > len(digest) && spec[len(spec)-len(digest)-1] == '@' && spec[len(spec)-len(digest):] == digest {
		return w.u8(1).str(spec[:len(spec)-len(digest)-1])
	}
	return w.u8(0).str(spec)
}

func (w recordWriter) bool(v bool) recordWriter {
	if v {
		return w.u8(1)
	}
	return w.u8(0)
}

func (w recordWriter) time(t time.Time) recordWriter {
	if t.IsZero() {
		return w.i64(zeroTime)
	}
	return w.i64(t.UnixNano())
}

type recordReader struct {
	b   []byte
	bad bool
	// s, when set, is a string copy of the whole value b was at the start: str then returns
	// substrings of it, so that decoding a record copies it once instead of once per string.
	s string
}

// newRecordReader returns a reader whose strings share one copy of b. The strings keep the
// whole copy alive, which suits records decoded into one value (an object and its refs).
func newRecordReader(b []byte) *recordReader { return &recordReader{b: b, s: string(b)} }

func (r *recordReader) take(n int) []byte {
	if r.bad || n < 0 || len(r.b) < n {
		r.bad = true
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *recordReader) u8() byte {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

// uvarint reads a minimal uvarint: a longer encoding of the same number is corrupt, so that
// every value has one encoding.
func (r *recordReader) uvarint() uint64 {
	if r.bad {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || (n > 1 && r.b[n-1] == 0) {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) varint() int64 {
	u := r.uvarint()
	return int64(u>>1) ^ -int64(u&1) // zig-zag, as binary.AppendVarint writes it
}

func (r *recordReader) i64() int64 {
	if b := r.take(8); b != nil {
		return int64(binary.BigEndian.Uint64(b))
	}
	return 0
}

func (r *recordReader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.bad = true
		return ""
	}
	if r.s != "" {
		// r.b is always a suffix of the value r.s copies.
		at := len(r.s) - len(r.b)
		r.take(int(n))
		return r.s[at : at+int(n)]
	}
	return string(r.take(int(n)))
}

func (r *recordReader) digest() string {
	kr := keyReader{b: r.b}
	d := kr.digest()
	if kr.bad || r.bad {
		r.bad = true
		return ""
	}
	r.b = kr.b
	return d
}

func (r *recordReader) mediaType() string {
	code := r.u8()
	if code == 0 {
		m := r.str()
		if _, ok := mediaTypeCodes[m]; ok {
			r.bad = true // known media types have only the coded form
		}
		return m
	}
	m, ok := mediaTypeNames[code]
	if !ok {
		r.bad = true
	}
	return m
}

func (r *recordReader) pullSpec(digest string) string {
	elided := r.bool()
	spec := r.str()
	if !elided {
		if digest != "" && strings.HasSuffix(spec, "@"+digest) {
			r.bad = true // such a spec has only the elided form
		}
		return spec
	}
	if digest == "" {
		r.bad = true
	}
	return spec + "@" + digest
}

// mediaTypeCodes gives the media types of images and layers a one-byte code; append-only
// within a schema version.
var mediaTypeCodes = map[string]byte{
	"application/vnd.docker.image.rootfs.diff.tar.gzip":            1,
	"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip":    2,
	"application/vnd.oci.image.layer.v1.tar":                       3,
	"application/vnd.oci.image.layer.v1.tar+gzip":                  4,
	"application/vnd.oci.image.layer.v1.tar+zstd":                  5,
	"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": 6,
	"application/vnd.docker.distribution.manifest.v1+json":         7,
	"application/vnd.docker.distribution.manifest.v1+prettyjws":    8,
	"application/vnd.docker.distribution.manifest.v2+json":         9,
	"application/vnd.docker.distribution.manifest.list.v2+json":    10,
	"application/vnd.oci.image.manifest.v1+json":                   11,
	"application/vnd.oci.image.index.v1+json":                      12,
	"application/vnd.docker.container.image.v1+json":               13,
	"application/vnd.oci.image.config.v1+json":                     14,
}

var mediaTypeNames = func() map[byte]string {
	m := make(map[byte]string, len(mediaTypeCodes))
	for name, code := range mediaTypeCodes {
		m[code] = name
	}
	return m
}()

func (r *recordReader) bool() bool {
	v := r.u8()
	if v > 1 {
		r.bad = true
	}
	return v == 1
}

func (r *recordReader) time() time.Time {
	n := r.i64()
	if n == zeroTime {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// recordRefs reads the head of an object record and appends the encoding of each of its
// references (with its length) to segs, without decoding them; ok is false when rec is
// malformed.
func recordRefs(rec []byte, segs [][]byte) (st objectState, _ [][]byte, ok bool) {
	r := recordReader{b: rec}
	st = r.recordHead()
	for n := r.count(minRefSize); n > 0 && !r.bad; n-- {
		start := r.b
		size := r.uvarint()
		if size > uint64(len(r.b)) {
			r.bad = true
			break
		}
		r.take(int(size))
		segs = append(segs, start[:len(start)-len(r.b)])
	}
	return st, segs, !r.bad && len(r.b) == 0
}

// decodeRefSegment decodes one reference that recordRefs split off.
func decodeRefSegment(seg []byte) (model.Ref, error) {
	var ref model.Ref
	r := newRecordReader(seg)
	r.refSegment(&ref)
	if r.bad || len(r.b) != 0 {
		return model.Ref{}, errors.New("corrupt reference")
	}
	return ref, nil
}

// refSegment reads a reference written by recordWriter.refSegment into ref.
func (r *recordReader) refSegment(ref *model.Ref) {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.bad = true
		return
	}
	end := len(r.b) - int(n) // what is left after the reference
	ref.Container = r.str()
	ref.FieldPath, ref.Kind = r.fieldPath(ref.Container), r.refKind()
	ref.Repo, ref.Tag, ref.Digest = r.str(), r.str(), r.digest()
	ref.Raw = r.rawSpec(ref.Repo, ref.Tag, ref.Digest)
	ref.Invalid, ref.Extra = r.str(), r.bool()
	if len(r.b) != end {
		r.bad = true
	}
}

// count reads a list length and rejects lengths that cannot fit in the rest of the value,
// so a corrupt value cannot make the decoder allocate without bound.
func (r *recordReader) count(minItemSize int) int {
	n := r.uvarint()
	if n > uint64(len(r.b)/minItemSize) {
		r.bad = true
		return 0
	}
	return int(n)
}

func (r *recordReader) done(what string) error {
	if r.bad || len(r.b) != 0 {
		return fmt.Errorf("corrupt %s record", what)
	}
	return nil
}

func encodeObject(o storedObject) []byte { return appendObject(make([]byte, 0, objectCap(&o)), &o) }

// objectCap estimates the length of o's record.
func objectCap(o *storedObject) int {
	size := 3*8 + 4 + len(o.UID) + len(o.ResourceVersion) + len(o.Phase)
	for i := range o.Refs {
		ref := &o.Refs[i]
		size += 2 + minRefSize + len(ref.FieldPath) + len(ref.Container) + len(ref.Raw) + len(ref.Repo) +
			len(ref.Tag) + len(ref.Invalid) + sha256ByteLen
	}
	return size
}

// appendObject appends encodeObject's record of o to b.
func appendObject(b []byte, o *storedObject) []byte {
	w := recordWriter(b)
	w = w.time(o.Since).time(o.Expires).str(o.UID).str(o.ResourceVersion).time(o.Created).str(o.Phase)
	w = w.uvarint(uint64(len(o.Refs)))
	for i := range o.Refs {
		w = w.refSegment(&o.Refs[i])
	}
	return w
}

// refSegment appends ref's encoding preceded by its length.
func (w recordWriter) refSegment(ref *model.Ref) recordWriter {
	at := len(w)
	w = append(w, 0) // the length, in one byte when the encoding is shorter than 128 bytes
	w = w.str(ref.Container).fieldPath(ref.FieldPath, ref.Container).refKind(ref.Kind).str(ref.Repo).str(ref.Tag)
	w = w.digest(ref.Digest).rawSpec(ref).str(ref.Invalid).bool(ref.Extra)
	n := len(w) - at - 1
	if n < 0x80 {
		w[at] = byte(n)
		return w
	}
	var length [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(length[:], uint64(n))
	w = append(w, length[1:k]...) // room for the longer length
	copy(w[at+k:], w[at+1:at+1+n])
	copy(w[at:], length[:k])
	return w
}

// minRefSize bounds the encoded size of a Ref from below (all strings empty): its length,
// six one-byte string lengths, the kind code, the raw digest form and its length, the raw
// form, the bool.
const minRefSize = 1 + 6 + 1 + 2 + 1 + 1

// decodeObject decodes an object record; the strings it returns share one copy of b (none
// aliases b itself).
func decodeObject(key model.ObjectKey, b []byte) (storedObject, error) {
	r := newRecordReader(b)
	o := storedObject{Object: model.Object{Key: key}}
	o.Since, o.Expires, o.UID, o.ResourceVersion = r.time(), r.time(), r.str(), r.str()
	o.Created, o.Phase = r.time(), r.str()
	if n := r.count(minRefSize); n > 0 {
		o.Refs = make([]model.Ref, n)
		for i := range o.Refs {
			r.refSegment(&o.Refs[i])
		}
	}
	if r.bad || len(r.b) != 0 {
		// Not r.done: its message would be built for every record, not only corrupt ones.
		return storedObject{}, fmt.Errorf("corrupt object %s record", key)
	}
	return o, nil
}

func encodeImage(img model.Image) []byte {
	w := recordWriter(make([]byte, 0, 128+len(img.Layers)*100))
	w = w.time(img.Created).bool(img.Managed).pullSpec(img.DockerImageReference, img.Digest)
	w = w.mediaType(img.ManifestMediaType).varint(img.Size).uvarint(uint64(len(img.Layers)))
	for _, l := range img.Layers {
		w = w.digest(l.Digest).varint(l.Size).mediaType(l.MediaType)
	}
	w = w.digest(img.Config).uvarint(uint64(len(img.Children)))
	for _, c := range img.Children {
		w = w.digest(c)
	}
	// The object name only where it is not the digest (a CRD-served Image): on OpenShift it
	// costs four bytes.
	name := img.Name
	if name == img.Digest {
		name = ""
	}
	return w.str(name)
}

func decodeImage(digest string, b []byte) (model.Image, error) {
	r := &recordReader{b: b}
	img := model.Image{Digest: digest}
	img.Created, img.Managed, img.DockerImageReference = r.time(), r.bool(), r.pullSpec(digest)
	img.ManifestMediaType, img.Size = r.mediaType(), r.varint()
	if n := r.count(4); n > 0 {
		img.Layers = make([]model.Blob, n)
		for i := range img.Layers {
			img.Layers[i] = model.Blob{Digest: r.digest(), Size: r.varint(), MediaType: r.mediaType()}
		}
	}
	img.Config = r.digest()
	if n := r.count(2); n > 0 {
		img.Children = make([]string, n)
		for i := range img.Children {
			img.Children[i] = r.digest()
		}
	}
	img.Name = r.str()
	if err := r.done("image " + digest); err != nil {
		return model.Image{}, err
	}
	if img.Name == digest {
		return model.Image{}, fmt.Errorf("image %s: its name is stored although it is the digest", digest)
	}
	return img, nil
}

func encodeStream(s model.Stream) []byte {
	w := recordWriter(make([]byte, 0, 64))
	w = w.time(s.Created).str(s.ResourceVersion).uvarint(uint64(len(s.Tags)))
	for _, t := range s.Tags {
		w = w.str(t.Name).uvarint(uint64(len(t.Items)))
		for _, it := range t.Items {
			w = w.digest(it.Image).time(it.Created).pullSpec(it.DockerImageReference, it.Image).varint(it.Generation)
		}
	}
	return w
}

func encodeLimitRange(l model.LimitRange) []byte { return recordWriter(nil).i64(l.MaxImageSize) }

func decodeLimitRange(ns, name string, b []byte) (model.LimitRange, error) {
	r := &recordReader{b: b}
	l := model.LimitRange{Namespace: ns, Name: name, MaxImageSize: r.i64()}
	if err := r.done("limit range " + ns + "/" + name); err != nil {
		return model.LimitRange{}, err
	}
	return l, nil
}

func encodeCount(n uint64) []byte { return binary.AppendUvarint(nil, n) }

func decodeCount(b []byte) (uint64, error) {
	r := &recordReader{b: b}
	n := r.uvarint()
	if r.bad || len(r.b) != 0 {
		return 0, fmt.Errorf("corrupt counter value %x", b)
	}
	return n, nil
}
