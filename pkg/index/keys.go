package index

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// The whole key layout of the index. Every key starts with a one-byte prefix naming its kind.
// Components are encoded so that a key decodes unambiguously and a prefix of components is a
// prefix of the key:
//
//	str     uint16 big-endian length, then the bytes (at most maxKeyString bytes)
//	digest  0x01 then 32 raw bytes for a canonical "sha256:<64 lower-case hex>", else
//	        0x00 then str; canonical digests always take the short form, so each digest has
//	        exactly one encoding and the sha256 digests that fill the index take 33 bytes, not 73
//	obj     kind code (one byte, kindCodes), or 0xFF then str for a kind not in the table;
//	        then str namespace, str name
//	state   one byte: stateConfirmed or statePending
//	u16/u32/u64  fixed-width big-endian unsigned integers
//
// Index entries (d, t, x, b, h) carry no value: the key is the fact. Records (o, p, i, s, l)
// carry an encoded value (records.go); counters (c, r) carry a u64.
const (
	// KEY: m str(name) -> value. Metadata: "schema" (u32 schema version) and "complete"
	// (set when a rebuild has finished; missing means the index must be rebuilt).
	prefixMeta byte = 'm'
	// KEY: o obj -> object record. A confirmed referrer (seen by a watch or a full list).
	prefixObject byte = 'o'
	// KEY: p obj -> pending record. References recorded at admission, not yet seen by a watch.
	prefixPending byte = 'p'
	// KEY: x u64(expiry unix nanoseconds) obj -> no value. Expiry order of pending records.
	prefixExpiry byte = 'x'
	// KEY: d digest str(repo) state obj u16(ref index) -> no value. A reference naming digest,
	// under repo ("" when it can protect no stream). Ref index is the position in Object.Refs.
	prefixRefDigest byte = 'd'
	// KEY: t str(repo) str(tag) state obj u16(ref index) -> no value. A reference naming
	// repo:tag without a digest; it protects item 0 of that tag.
	prefixRefTag byte = 't'
	// KEY: i digest -> image record.
	prefixImage byte = 'i'
	// KEY: b digest(blob) digest(image) -> no value. Image uses blob as a layer or its config.
	prefixBlobImage byte = 'b'
	// KEY: c digest(blob) -> u64. Number of images using blob (count of its b entries).
	prefixBlobCount byte = 'c'
	// KEY: s str(namespace) str(name) -> stream record (status tags and their histories).
	prefixStream byte = 's'
	// KEY: h digest(image) str(repo) str(tag) u32(position) -> no value. Item position of
	// tag's history in stream repo names image; the reverse of the tag history.
	prefixStreamItem byte = 'h'
	// KEY: r str(repo) digest(blob) -> u64. Number of distinct images held by repo's status
	// items whose layers or config include blob.
	prefixRepoBlobCount byte = 'r'
	// KEY: l str(namespace) str(name) -> limit record (max image size in bytes).
	prefixLimitRange byte = 'l'
)

// Reference states inside reverse-entry keys. Confirmed sorts first so that a lookup lists
// what watches have seen before what admission merely announced.
const (
	stateConfirmed byte = 0
	statePending   byte = 1
)

// maxKeyString bounds a string component of a key. It is far below the uint16 limit of the
// length field and Badger's 65,000-byte key limit, and far above any Kubernetes name (253),
// namespace (63) or docker repository (255) and tag (128); longer values are rejected on write.
const maxKeyString = 4096

const (
	digestRaw          byte = 0x00
	digestSHA256       byte = 0x01
	kindOther          byte = 0xFF
	sha256Prefix            = "sha256:"
	sha256HexLen            = 64
	sha256ByteLen           = 32
	metaSchema              = "schema"
	metaComplete            = "complete"
	countValueLength        = 8
	keyStringLenLength      = 2
)

// kindCodes gives the model kinds a one-byte code; the table is append-only within a schema
// version because codes are stored on disk.
var kindCodes = map[string]byte{
	model.KindPod: 1, model.KindReplicationController: 2, model.KindReplicaSet: 3,
	model.KindDeployment: 4, model.KindStatefulSet: 5, model.KindDaemonSet: 6,
	model.KindJob: 7, model.KindCronJob: 8, model.KindDeploymentConfig: 9,
	model.KindBuild: 10, model.KindBuildConfig: 11, model.KindImageStream: 12,
	model.KindImage: 13, model.KindLimitRange: 14,
}

var kindNames = func() map[byte]string {
	m := make(map[byte]string, len(kindCodes))
	for name, code := range kindCodes {
		m[code] = name
	}
	return m
}()

func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func isCanonicalSHA256(d string) bool {
	if len(d) != len(sha256Prefix)+sha256HexLen || !strings.HasPrefix(d, sha256Prefix) {
		return false
	}
	for i := len(sha256Prefix); i < len(d); i++ {
		if c := d[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func appendDigest(b []byte, d string) []byte {
	if !isCanonicalSHA256(d) {
		return appendStr(append(b, digestRaw), d)
	}
	b = append(b, digestSHA256)
	h := d[len(sha256Prefix):] // lower-case hex, checked above
	for i := 0; i < len(h); i += 2 {
		b = append(b, unhex(h[i])<<4|unhex(h[i+1]))
	}
	return b
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

// keyCap estimates the length of a key holding the given strings, so that building it
// allocates once.
func keyCap(strs ...string) int {
	n := 48 // prefix, digest, lengths, state, kind code, index
	for _, s := range strs {
		n += 2 + len(s)
	}
	return n
}

func appendObjKey(b []byte, k model.ObjectKey) []byte {
	if code, ok := kindCodes[k.Kind]; ok {
		b = append(b, code)
	} else {
		b = appendStr(append(b, kindOther), k.Kind)
	}
	return appendStr(appendStr(b, k.Namespace), k.Name)
}

func metaKey(name string) []byte { return appendStr([]byte{prefixMeta}, name) }

func objectKey(k model.ObjectKey) []byte {
	return appendObjKey(append(make([]byte, 0, keyCap(k.Kind, k.Namespace, k.Name)), prefixObject), k)
}

func pendingKey(k model.ObjectKey) []byte {
	return appendObjKey(append(make([]byte, 0, keyCap(k.Kind, k.Namespace, k.Name)), prefixPending), k)
}

func expiryKey(at uint64, k model.ObjectKey) []byte {
	return appendObjKey(binary.BigEndian.AppendUint64([]byte{prefixExpiry}, at), k)
}

func refDigestPrefix(digest string) []byte { return appendDigest([]byte{prefixRefDigest}, digest) }

func refDigestRepoPrefix(digest, repo string) []byte {
	return appendStr(refDigestPrefix(digest), repo)
}

func refDigestKey(digest, repo string, state byte, k model.ObjectKey, idx uint16) []byte {
	b := make([]byte, 0, keyCap(digest, repo, k.Kind, k.Namespace, k.Name))
	b = appendStr(appendDigest(append(b, prefixRefDigest), digest), repo)
	b = appendObjKey(append(b, state), k)
	return binary.BigEndian.AppendUint16(b, idx)
}

func refTagPrefix(repo, tag string) []byte {
	return appendStr(appendStr([]byte{prefixRefTag}, repo), tag)
}

func refTagKey(repo, tag string, state byte, k model.ObjectKey, idx uint16) []byte {
	b := make([]byte, 0, keyCap(repo, tag, k.Kind, k.Namespace, k.Name))
	b = appendStr(appendStr(append(b, prefixRefTag), repo), tag)
	b = appendObjKey(append(b, state), k)
	return binary.BigEndian.AppendUint16(b, idx)
}

func imageKey(digest string) []byte { return appendDigest([]byte{prefixImage}, digest) }

func blobImagePrefix(blob string) []byte { return appendDigest([]byte{prefixBlobImage}, blob) }

func blobImageKey(blob, image string) []byte { return appendDigest(blobImagePrefix(blob), image) }

func blobCountKey(blob string) []byte { return appendDigest([]byte{prefixBlobCount}, blob) }

func streamNamespacePrefix(ns string) []byte { return appendStr([]byte{prefixStream}, ns) }

func streamKey(ns, name string) []byte { return appendStr(streamNamespacePrefix(ns), name) }

func streamItemPrefix(image string) []byte { return appendDigest([]byte{prefixStreamItem}, image) }

func streamItemRepoPrefix(image, repo string) []byte {
	return appendStr(streamItemPrefix(image), repo)
}

func streamItemKey(image, repo, tag string, pos uint32) []byte {
	b := appendStr(streamItemRepoPrefix(image, repo), tag)
	return binary.BigEndian.AppendUint32(b, pos)
}

func repoBlobCountKey(repo, blob string) []byte {
	return appendDigest(appendStr([]byte{prefixRepoBlobCount}, repo), blob)
}

func limitRangeNamespacePrefix(ns string) []byte { return appendStr([]byte{prefixLimitRange}, ns) }

func limitRangeKey(ns, name string) []byte { return appendStr(limitRangeNamespacePrefix(ns), name) }

// keyReader decodes key components; the first malformed component sets bad and every later
// read returns zero values, so a decoder checks once at the end.
type keyReader struct {
	b   []byte
	bad bool
}

func (r *keyReader) take(n int) []byte {
	if r.bad || len(r.b) < n {
		r.bad = true
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *keyReader) u8() byte {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *keyReader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *keyReader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *keyReader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *keyReader) str() string {
	n := int(r.u16())
	if n > maxKeyString {
		r.bad = true
		return ""
	}
	return string(r.take(n))
}

func (r *keyReader) digest() string {
	switch r.u8() {
	case digestSHA256:
		raw := r.take(sha256ByteLen)
		if raw == nil {
			return ""
		}
		return sha256Prefix + hex.EncodeToString(raw)
	case digestRaw:
		d := r.str()
		if isCanonicalSHA256(d) { // canonical digests have only the short form
			r.bad = true
		}
		return d
	default:
		r.bad = true
		return ""
	}
}

func (r *keyReader) objKey() model.ObjectKey {
	var k model.ObjectKey
	code := r.u8()
	if code == kindOther {
		k.Kind = r.str()
		if _, known := kindCodes[k.Kind]; known {
			r.bad = true // known kinds have only the coded form
		}
	} else if name, ok := kindNames[code]; ok {
		k.Kind = name
	} else {
		r.bad = true
	}
	k.Namespace = r.str()
	k.Name = r.str()
	return k
}

func (r *keyReader) state() byte {
	s := r.u8()
	if s != stateConfirmed && s != statePending {
		r.bad = true
	}
	return s
}

// parsedKey is any index key taken apart; which fields are set depends on Prefix.
type parsedKey struct {
	Prefix byte
	Meta   string
	Object model.ObjectKey
	At     uint64 // expiry, unix nanoseconds
	Digest string // image digest (d, i, h, b's image) or blob digest (c, r)
	Blob   string // blob digest of a b key
	Repo   string
	Tag    string
	State  byte
	Index  uint16 // reference index in Object.Refs
	Pos    uint32 // stream item position
	NS     string
	Name   string
}

// parseKey decodes a key built by this file. It rejects any byte string that is not the
// canonical encoding of some key, so parseKey(k) succeeding implies encodeKey(parseKey(k)) == k.
func parseKey(b []byte) (parsedKey, error) {
	if len(b) == 0 {
		return parsedKey{}, fmt.Errorf("empty key")
	}
	p := parsedKey{Prefix: b[0]}
	r := &keyReader{b: b[1:]}
	switch p.Prefix {
	case prefixMeta:
		p.Meta = r.str()
	case prefixObject, prefixPending:
		p.Object = r.objKey()
	case prefixExpiry:
		p.At = r.u64()
		p.Object = r.objKey()
	case prefixRefDigest:
		p.Digest, p.Repo, p.State = r.digest(), r.str(), r.state()
		p.Object, p.Index = r.objKey(), r.u16()
	case prefixRefTag:
		p.Repo, p.Tag, p.State = r.str(), r.str(), r.state()
		p.Object, p.Index = r.objKey(), r.u16()
	case prefixImage, prefixBlobCount:
		p.Digest = r.digest()
	case prefixBlobImage:
		p.Blob, p.Digest = r.digest(), r.digest()
	case prefixStream, prefixLimitRange:
		p.NS, p.Name = r.str(), r.str()
	case prefixStreamItem:
		p.Digest, p.Repo, p.Tag, p.Pos = r.digest(), r.str(), r.str(), r.u32()
	case prefixRepoBlobCount:
		p.Repo, p.Digest = r.str(), r.digest()
	default:
		return parsedKey{}, fmt.Errorf("unknown key prefix %q", p.Prefix)
	}
	if r.bad || len(r.b) != 0 {
		return parsedKey{}, fmt.Errorf("malformed %q key %x", p.Prefix, b)
	}
	return p, nil
}

// encodeKey is the inverse of parseKey; it exists for tests and for Diff's descriptions.
func encodeKey(p parsedKey) []byte {
	switch p.Prefix {
	case prefixMeta:
		return metaKey(p.Meta)
	case prefixObject:
		return objectKey(p.Object)
	case prefixPending:
		return pendingKey(p.Object)
	case prefixExpiry:
		return expiryKey(p.At, p.Object)
	case prefixRefDigest:
		return refDigestKey(p.Digest, p.Repo, p.State, p.Object, p.Index)
	case prefixRefTag:
		return refTagKey(p.Repo, p.Tag, p.State, p.Object, p.Index)
	case prefixImage:
		return imageKey(p.Digest)
	case prefixBlobCount:
		return blobCountKey(p.Digest)
	case prefixBlobImage:
		return blobImageKey(p.Blob, p.Digest)
	case prefixStream:
		return streamKey(p.NS, p.Name)
	case prefixLimitRange:
		return limitRangeKey(p.NS, p.Name)
	case prefixStreamItem:
		return streamItemKey(p.Digest, p.Repo, p.Tag, p.Pos)
	case prefixRepoBlobCount:
		return repoBlobCountKey(p.Repo, p.Digest)
	}
	return nil
}
