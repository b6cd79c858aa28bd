package index

import (
	"encoding/binary"
	"time"

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
// Index entries (x, b, h, a, e) carry no value: the key is the fact. Reverse entries (d, t)
// carry what a lookup returns beyond the key (refvalue.go), so that a lookup reads nothing
// else. Records (o, p, i, s, l) carry an encoded value (records.go); counters (c, r) a uvarint.
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
	// KEY: d digest str(repo) state obj u16(ref index) -> referrer value. A reference naming digest,
	// under repo ("" when it can protect no stream). Ref index is the position in Object.Refs.
	prefixRefDigest byte = 'd'
	// KEY: t str(repo) str(tag) state obj u16(ref index) -> referrer value. A reference naming
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
	// KEY: a u64(created, timeNanos) digest(image) -> no value. Creation order of images, for
	// ImagesCreatedBetween.
	prefixImageCreated byte = 'a'
	// KEY: e u64(created, timeNanos) str(namespace) str(name) -> no value. Stream namespace/name
	// has at least one status tag-history item created at that time; one entry per distinct
	// time, for StreamsWithItemsCreatedBetween.
	prefixItemCreated byte = 'e'
)

// Prefix 'w' is the tracker's (watermark.go); keys.go does not parse it.

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

// lowerHex maps the bytes of lower-case hex digits to their values and every other byte
// to 0xFF, so that a canonical digest is checked and decoded in one pass.
var lowerHex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c - '0'
	}
	for c := byte('a'); c <= 'f'; c++ {
		t[c] = c - 'a' + 10
	}
	return t
}()

// decodeSHA256 decodes a canonical "sha256:<64 lower-case hex>" digest into raw; ok is false
// for any other string.
func decodeSHA256(d string, raw *[sha256ByteLen]byte) (ok bool) {
	if len(d) != len(sha256Prefix)+sha256HexLen || d[:len(sha256Prefix)] != sha256Prefix {
		return false
	}
	h := d[len(sha256Prefix):]
	var bad byte
	for i := range raw {
		hi, lo := lowerHex[h[2*i]], lowerHex[h[2*i+1]]
		bad |= hi | lo
		raw[i] = hi<<4 | lo&0x0F
	}
	return bad&0xF0 == 0
}

func isCanonicalSHA256(d string) bool {
	var raw [sha256ByteLen]byte
	return decodeSHA256(d, &raw)
}

func appendDigest(b []byte, d string) []byte {
	var raw [sha256ByteLen]byte
	if !decodeSHA256(d, &raw) {
		return appendStr(append(b, digestRaw), d)
	}
	return append(append(b, digestSHA256), raw[:]...)
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
	return appendRecordKey(make([]byte, 0, keyCap(k.Kind, k.Namespace, k.Name)), prefixObject, k)
}

func pendingKey(k model.ObjectKey) []byte {
	return appendRecordKey(make([]byte, 0, keyCap(k.Kind, k.Namespace, k.Name)), prefixPending, k)
}

// appendRecordKey appends the object or pending record key of k (prefix prefixObject or
// prefixPending) to b.
func appendRecordKey(b []byte, prefix byte, k model.ObjectKey) []byte {
	return appendObjKey(append(b, prefix), k)
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
	return appendRefDigestKey(b, digest, repo, state, k, idx)
}

func appendRefDigestKey(b []byte, digest, repo string, state byte, k model.ObjectKey, idx uint16) []byte {
	b = appendStr(appendDigest(append(b, prefixRefDigest), digest), repo)
	b = appendObjKey(append(b, state), k)
	return binary.BigEndian.AppendUint16(b, idx)
}

func refTagPrefix(repo, tag string) []byte {
	return appendStr(appendStr([]byte{prefixRefTag}, repo), tag)
}

func refTagKey(repo, tag string, state byte, k model.ObjectKey, idx uint16) []byte {
	b := make([]byte, 0, keyCap(repo, tag, k.Kind, k.Namespace, k.Name))
	return appendRefTagKey(b, repo, tag, state, k, idx)
}

func appendRefTagKey(b []byte, repo, tag string, state byte, k model.ObjectKey, idx uint16) []byte {
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

func imageCreatedKey(at uint64, digest string) []byte {
	b := binary.BigEndian.AppendUint64(append(make([]byte, 0, 48), prefixImageCreated), at)
	return appendDigest(b, digest)
}

func itemCreatedKey(at uint64, ns, name string) []byte {
	b := binary.BigEndian.AppendUint64(append(make([]byte, 0, keyCap(ns, name)), prefixItemCreated), at)
	return appendStr(appendStr(b, ns), name)
}

// timeNanos orders times in keys: unix nanoseconds, with the zero time and times before 1970
// at 0, so they sort first and fall in no (from, to] range that starts at or after 1970.
func timeNanos(t time.Time) uint64 {
	if t.IsZero() || t.UnixNano() < 0 {
		return 0
	}
	return uint64(t.UnixNano())
}
