package pruner

// blobCounts counts references to digests for stage 2 (every Image counts its manifest,
// layers and config blob). At 200,000 images the counts run to millions of blobs, so a
// sha256 digest is kept as its 32 raw bytes instead of its 71-character string, which also
// leaves the image records' strings free for the garbage collector; any other digest is kept
// as it is.
type blobCounts struct {
	sha256 map[[32]byte]int32
	other  map[string]int32
}

func newBlobCounts() *blobCounts {
	return &blobCounts{sha256: make(map[[32]byte]int32), other: make(map[string]int32)}
}

// sha256Prefix is the algorithm prefix of the digests stored raw.
const sha256Prefix = "sha256:"

// rawSHA256 returns the bytes of d when it is "sha256:" and 64 lowercase hex digits.
func rawSHA256(d string) ([32]byte, bool) {
	var raw [32]byte
	if len(d) != len(sha256Prefix)+64 || d[:len(sha256Prefix)] != sha256Prefix {
		return raw, false
	}
	h := d[len(sha256Prefix):]
	for i := range raw {
		hi, ok1 := nibble(h[2*i])
		lo, ok2 := nibble(h[2*i+1])
		if !ok1 || !ok2 {
			return raw, false
		}
		raw[i] = hi<<4 | lo
	}
	return raw, true
}

// nibble decodes one lowercase hex digit; uppercase would decode to a digest it is not.
func nibble(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// add adds n to the count of d and returns the new count.
func (c *blobCounts) add(d string, n int32) int32 {
	if raw, ok := rawSHA256(d); ok {
		c.sha256[raw] += n
		return c.sha256[raw]
	}
	c.other[d] += n
	return c.other[d]
}
