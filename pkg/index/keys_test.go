package index

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// digestOf returns a canonical sha256 digest derived from s.
func digestOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

var pod = model.ObjectKey{Kind: model.KindPod, Namespace: "ns", Name: "web-1"}

func TestKeysRoundTrip(t *testing.T) {
	d := digestOf("image")
	tests := []struct {
		behaviour string
		key       parsedKey
	}{
		{"a meta key keeps its name", parsedKey{Prefix: prefixMeta, Meta: metaSchema}},
		{"an object key keeps a coded kind", parsedKey{Prefix: prefixObject, Object: pod}},
		{"an object key keeps a kind outside the table",
			parsedKey{Prefix: prefixObject, Object: model.ObjectKey{Kind: "Widget", Namespace: "n", Name: "w"}}},
		{"a cluster-scoped object key keeps its empty namespace",
			parsedKey{Prefix: prefixObject, Object: model.ObjectKey{Kind: model.KindImage, Name: d}}},
		{"a pending key keeps its object", parsedKey{Prefix: prefixPending, Object: pod}},
		{"an expiry key keeps time and object", parsedKey{Prefix: prefixExpiry, At: 1 << 62, Object: pod}},
		{"a digest entry keeps all its parts",
			parsedKey{Prefix: prefixRefDigest, Digest: d, Repo: "ns/is", State: statePending, Object: pod, Index: 65535}},
		{"a digest entry keeps an empty repo", parsedKey{Prefix: prefixRefDigest, Digest: d, Object: pod}},
		{"a digest entry keeps a non-sha256 digest",
			parsedKey{Prefix: prefixRefDigest, Digest: "sha512:abc", Repo: "a/b", Object: pod, Index: 3}},
		{"an upper-case sha256 digest is kept as written",
			parsedKey{Prefix: prefixImage, Digest: "sha256:" + "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"}},
		{"a tag entry keeps all its parts",
			parsedKey{Prefix: prefixRefTag, Repo: "ns/is", Tag: "latest", State: stateConfirmed, Object: pod, Index: 7}},
		{"an image key keeps its digest", parsedKey{Prefix: prefixImage, Digest: d}},
		{"a blob-image key keeps both digests", parsedKey{Prefix: prefixBlobImage, Blob: digestOf("layer"), Digest: d}},
		{"a blob count key keeps its blob", parsedKey{Prefix: prefixBlobCount, Digest: digestOf("layer")}},
		{"a stream key keeps namespace and name", parsedKey{Prefix: prefixStream, NS: "ns", Name: "is"}},
		{"a stream item key keeps all its parts",
			parsedKey{Prefix: prefixStreamItem, Digest: d, Repo: "ns/is", Tag: "v1", Pos: 1<<32 - 1}},
		{"a repo blob count key keeps repo and blob", parsedKey{Prefix: prefixRepoBlobCount, Repo: "ns/is", Digest: d}},
		{"a limit range key keeps namespace and name", parsedKey{Prefix: prefixLimitRange, NS: "ns", Name: "lr"}},
		{"unicode survives", parsedKey{Prefix: prefixStream, NS: "名前", Name: "ïs\x00"}},
		{"an image creation key keeps time and digest", parsedKey{Prefix: prefixImageCreated, At: 1 << 60, Digest: d}},
		{"a stream item creation key keeps time, namespace and name",
			parsedKey{Prefix: prefixItemCreated, At: 42, NS: "ns", Name: "is"}},
	}
	for _, tt := range tests {
		t.Run(tt.behaviour, func(t *testing.T) {
			enc := encodeKey(tt.key)
			if enc == nil || enc[0] != tt.key.Prefix {
				t.Fatalf("encodeKey(%+v) = %x", tt.key, enc)
			}
			got, err := parseKey(enc)
			if err != nil {
				t.Fatalf("parseKey: %v", err)
			}
			if !reflect.DeepEqual(got, tt.key) {
				t.Fatalf("round trip: got %+v, want %+v", got, tt.key)
			}
		})
	}
}

func TestKeysCanonicalDigestIsCompact(t *testing.T) {
	d := digestOf("x")
	if got := len(imageKey(d)); got != 1+1+32 {
		t.Fatalf("image key of a canonical sha256 digest has %d bytes, want 34", got)
	}
	if got := len(imageKey("sha256:short")); got != 1+1+2+len("sha256:short") {
		t.Fatalf("image key of a raw digest has %d bytes", got)
	}
}

func TestKeysRejectNonCanonicalEncodings(t *testing.T) {
	d := digestOf("x")
	rawCanonical := appendStr(append([]byte{prefixImage}, digestRaw), d)
	tests := []struct {
		behaviour string
		key       []byte
	}{
		{"an empty key is rejected", nil},
		{"an unknown prefix is rejected", []byte{'Z', 0, 0}},
		{"a canonical digest in raw form is rejected", rawCanonical},
		{"a known kind spelled out is rejected",
			appendStr(appendStr(appendStr([]byte{prefixObject, kindOther}, model.KindPod), "ns"), "n")},
		{"an unknown kind code is rejected", appendStr(appendStr([]byte{prefixObject, 200}, "ns"), "n")},
		{"trailing bytes are rejected", append(imageKey(d), 0)},
		{"a truncated key is rejected", imageKey(d)[:20]},
		{"a bad state byte is rejected",
			appendObjKey(append(refDigestRepoPrefix(d, "a/b"), 7), pod)},
		{"an over-long string is rejected", append([]byte{prefixMeta, 0xff, 0xff}, make([]byte, 65535)...)},
	}
	for _, tt := range tests {
		t.Run(tt.behaviour, func(t *testing.T) {
			if p, err := parseKey(tt.key); err == nil {
				t.Fatalf("parseKey(%x) = %+v, want an error", tt.key, p)
			}
		})
	}
}

func TestKeysPrefixesSelectExactlyTheirComponents(t *testing.T) {
	d := digestOf("x")
	tests := []struct {
		behaviour string
		prefix    []byte
		in, out   []byte
	}{
		{"a digest prefix holds all repos of the digest", refDigestPrefix(d),
			refDigestKey(d, "ns/is", stateConfirmed, pod, 0), refDigestKey(digestOf("y"), "ns/is", 0, pod, 0)},
		{"a repo prefix does not hold a longer repo", refDigestRepoPrefix(d, "ns/is"),
			refDigestKey(d, "ns/is", statePending, pod, 1), refDigestKey(d, "ns/is2", 0, pod, 0)},
		{"a tag prefix does not hold a longer tag", refTagPrefix("ns/is", "v1"),
			refTagKey("ns/is", "v1", 0, pod, 0), refTagKey("ns/is", "v10", 0, pod, 0)},
		{"a namespace prefix does not hold a longer namespace", streamNamespacePrefix("ns"),
			streamKey("ns", "is"), streamKey("ns2", "is")},
		{"an empty repo prefix does not hold a named repo", refDigestRepoPrefix(d, ""),
			refDigestKey(d, "", 0, pod, 0), refDigestKey(d, "a/b", 0, pod, 0)},
		{"a stream item repo prefix holds all tags", streamItemRepoPrefix(d, "ns/is"),
			streamItemKey(d, "ns/is", "v1", 3), streamItemKey(d, "ns/isx", "v1", 3)},
	}
	for _, tt := range tests {
		t.Run(tt.behaviour, func(t *testing.T) {
			if !bytes.HasPrefix(tt.in, tt.prefix) {
				t.Errorf("%s does not hold %s", describeKey(tt.prefix), describeKey(tt.in))
			}
			if bytes.HasPrefix(tt.out, tt.prefix) {
				t.Errorf("prefix holds %s", describeKey(tt.out))
			}
		})
	}
}

func TestKeysCreationOrderFollowsTime(t *testing.T) {
	early, late := t0, t0.Add(time.Nanosecond)
	tests := []struct {
		behaviour   string
		first, then []byte
	}{
		{"an earlier image sorts first whatever its digest",
			imageCreatedKey(timeNanos(early), digestOf("z")), imageCreatedKey(timeNanos(late), digestOf("a"))},
		{"an image without a time sorts before a dated one",
			imageCreatedKey(timeNanos(time.Time{}), digestOf("z")), imageCreatedKey(timeNanos(early), digestOf("a"))},
		{"an earlier stream item sorts first whatever its stream",
			itemCreatedKey(timeNanos(early), "zz", "z"), itemCreatedKey(timeNanos(late), "a", "a")},
	}
	for _, tt := range tests {
		t.Run(tt.behaviour, func(t *testing.T) {
			if bytes.Compare(tt.first, tt.then) >= 0 {
				t.Fatalf("%x does not sort before %x", tt.first, tt.then)
			}
		})
	}
}

func TestKeysExpiryOrderFollowsTime(t *testing.T) {
	var keys [][]byte
	for _, at := range []uint64{5, 1 << 40, 0, 1 << 20, 1<<64 - 1} {
		keys = append(keys, expiryKey(at, pod))
	}
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) < 0 })
	var last uint64
	for i, k := range keys {
		p, err := parseKey(k)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && p.At < last {
			t.Fatalf("expiry %d sorts after %d", p.At, last)
		}
		last = p.At
	}
}

// FuzzKeyRoundTrip: every key built from any components within limits parses back to them.
func FuzzKeyRoundTrip(f *testing.F) {
	f.Add(byte(prefixRefDigest), "Pod", "ns", "name", digestOf("a"), "ns/is", "latest", uint64(7), uint32(3))
	f.Add(byte(prefixStreamItem), "", "", "", "sha256:xyz", "", "", uint64(0), uint32(0))
	f.Fuzz(func(t *testing.T, prefix byte, kind, ns, name, digest, repo, tag string, at uint64, pos uint32) {
		if tooLong(kind, ns, name, digest, repo, tag) {
			t.Skip()
		}
		obj := model.ObjectKey{Kind: kind, Namespace: ns, Name: name}
		var want parsedKey
		switch prefix % 15 {
		case 0:
			want = parsedKey{Prefix: prefixMeta, Meta: name}
		case 1:
			want = parsedKey{Prefix: prefixObject, Object: obj}
		case 2:
			want = parsedKey{Prefix: prefixPending, Object: obj}
		case 3:
			want = parsedKey{Prefix: prefixExpiry, At: at, Object: obj}
		case 4:
			want = parsedKey{Prefix: prefixRefDigest, Digest: digest, Repo: repo, State: byte(at % 2), Object: obj, Index: uint16(pos)}
		case 5:
			want = parsedKey{Prefix: prefixRefTag, Repo: repo, Tag: tag, State: byte(at % 2), Object: obj, Index: uint16(pos)}
		case 6:
			want = parsedKey{Prefix: prefixImage, Digest: digest}
		case 7:
			want = parsedKey{Prefix: prefixBlobImage, Blob: tag, Digest: digest}
		case 8:
			want = parsedKey{Prefix: prefixBlobCount, Digest: digest}
		case 9:
			want = parsedKey{Prefix: prefixStream, NS: ns, Name: name}
		case 10:
			want = parsedKey{Prefix: prefixStreamItem, Digest: digest, Repo: repo, Tag: tag, Pos: pos}
		case 11:
			want = parsedKey{Prefix: prefixRepoBlobCount, Repo: repo, Digest: digest}
		case 12:
			want = parsedKey{Prefix: prefixImageCreated, At: at, Digest: digest}
		case 13:
			want = parsedKey{Prefix: prefixItemCreated, At: at, NS: ns, Name: name}
		default:
			want = parsedKey{Prefix: prefixLimitRange, NS: ns, Name: name}
		}
		got, err := parseKey(encodeKey(want))
		if err != nil {
			t.Fatalf("parseKey(encodeKey(%+v)): %v", want, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip: got %+v, want %+v", got, want)
		}
	})
}

// FuzzParseKey: any bytes either fail to parse or are the one canonical encoding of what they
// parse to; parsing never panics.
func FuzzParseKey(f *testing.F) {
	f.Add(refDigestKey(digestOf("a"), "ns/is", statePending, pod, 2))
	f.Add(streamItemKey("sha256:abc", "ns/is", "v1", 9))
	f.Add([]byte{prefixObject, kindOther, 0, 3, 'F', 'o', 'o', 0, 0, 0, 1, 'x'})
	f.Add(imageCreatedKey(1<<62, digestOf("a")))
	f.Add(itemCreatedKey(7, "ns", "is"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseKey(b)
		if err != nil {
			return
		}
		if enc := encodeKey(p); !bytes.Equal(enc, b) {
			t.Fatalf("parseKey(%x) = %+v, which encodes as %x", b, p, enc)
		}
		_ = p.String()
	})
}
