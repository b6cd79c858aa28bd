package index

import "fmt"

// Human-readable names and descriptions of keys, for Stats and for the lines of Diff and
// Check (`pruneguard index stats` and `pruneguard index verify`).

// keyKindNames names each prefix for Stats and Diff output.
var keyKindNames = map[byte]string{
	prefixMeta: "meta", prefixObject: "object", prefixPending: "pending-object",
	prefixExpiry: "pending-expiry", prefixRefDigest: "ref-by-digest", prefixRefTag: "ref-by-tag",
	prefixImage: "image", prefixBlobImage: "blob-image", prefixBlobCount: "blob-count",
	prefixStream: "stream", prefixStreamItem: "stream-item", prefixRepoBlobCount: "repo-blob-count",
	prefixLimitRange: "limit-range", prefixImageCreated: "image-created",
	prefixItemCreated: "stream-item-created",
}

// String describes the key for people, e.g. in `pruneguard index verify` output.
func (p parsedKey) String() string {
	st := ""
	if p.State == statePending {
		st = " (pending)"
	}
	switch p.Prefix {
	case prefixMeta:
		return "meta " + p.Meta
	case prefixObject:
		return "object " + p.Object.String()
	case prefixPending:
		return "pending object " + p.Object.String()
	case prefixExpiry:
		return fmt.Sprintf("pending expiry of %s at %d", p.Object, p.At)
	case prefixRefDigest:
		return fmt.Sprintf("reference to %s in repo %q from %s ref %d%s", p.Digest, p.Repo, p.Object, p.Index, st)
	case prefixRefTag:
		return fmt.Sprintf("reference to %s:%s from %s ref %d%s", p.Repo, p.Tag, p.Object, p.Index, st)
	case prefixImage:
		return "image " + p.Digest
	case prefixBlobCount:
		return "blob count of " + p.Digest
	case prefixBlobImage:
		return fmt.Sprintf("blob %s used by image %s", p.Blob, p.Digest)
	case prefixStream:
		return "image stream " + p.NS + "/" + p.Name
	case prefixLimitRange:
		return "limit range " + p.NS + "/" + p.Name
	case prefixStreamItem:
		return fmt.Sprintf("stream item %s:%s[%d] holds %s", p.Repo, p.Tag, p.Pos, p.Digest)
	case prefixRepoBlobCount:
		return fmt.Sprintf("blob count of %s in repo %s", p.Digest, p.Repo)
	case prefixImageCreated:
		return fmt.Sprintf("image %s created at %d", p.Digest, p.At)
	case prefixItemCreated:
		return fmt.Sprintf("image stream %s/%s has an item created at %d", p.NS, p.Name, p.At)
	}
	return fmt.Sprintf("key with prefix %q", p.Prefix)
}
