package index

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// Decoding of the keys built by keys.go: parseKey and its inverse encodeKey.

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
		var buf [len(sha256Prefix) + sha256HexLen]byte // one allocation: the string
		copy(buf[:], sha256Prefix)
		hex.Encode(buf[len(sha256Prefix):], raw)
		return string(buf[:])
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
	At     uint64 // expiry or creation time, unix nanoseconds
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
	case prefixImageCreated:
		p.At, p.Digest = r.u64(), r.digest()
	case prefixItemCreated:
		p.At, p.NS, p.Name = r.u64(), r.str(), r.str()
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
	case prefixImageCreated:
		return imageCreatedKey(p.At, p.Digest)
	case prefixItemCreated:
		return itemCreatedKey(p.At, p.NS, p.Name)
	}
	return nil
}
