package imageref

import "strings"

// The docker grammar is a set of regular expressions; matching them costs tens of microseconds
// per reference, which the webhook pays on every admission and an index rebuild pays a million
// times. parseFast accepts the common shapes of that grammar with a hand-written scanner and
// leaves everything else to distribution/reference: it never rejects, it only declines. It
// declines anything it is not sure about (IPv6 hosts, digests other than lower-case sha256,
// names near the length limit), so that errors and rare forms get the library's exact answer.
// FuzzParse checks that whatever parseFast accepts, the library accepts and splits identically.

// sha256Prefix and sha256HexLen describe the only digest form the fast path accepts.
const (
	sha256Prefix = "sha256:"
	sha256HexLen = 64
	maxTagLength = 128
)

// parseFast returns the reference and true when s is certainly valid, else false.
func parseFast(s string) (Reference, bool) {
	var r Reference
	name := s
	if i := strings.IndexByte(s, '@'); i >= 0 {
		if !isSHA256Digest(s[i+1:]) {
			return Reference{}, false
		}
		r.Digest, name = s[i+1:], s[:i]
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		if !isTag(name[i+1:]) {
			return Reference{}, false
		}
		r.Tag, name = name[i+1:], name[:i]
	}
	if name == "" || len(name) > maxNameLength || !isName(name) {
		return Reference{}, false
	}
	splitName(name, &r)
	return r, true
}

func isSHA256Digest(d string) bool {
	if len(d) != len(sha256Prefix)+sha256HexLen || d[:len(sha256Prefix)] != sha256Prefix {
		return false
	}
	for i := len(sha256Prefix); i < len(d); i++ {
		if c := d[i]; !isDigit(c) && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// isTag matches [\w][\w.-]{0,127}.
func isTag(t string) bool {
	if t == "" || len(t) > maxTagLength || t[0] == '.' || t[0] == '-' {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; !isWord(c) && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// isName matches [host[:port]/]component(/component)*: every component is a path component,
// except that the first one, when more follow, may also be a host with an optional port.
func isName(name string) bool {
	first, rest, more := strings.Cut(name, "/")
	if !isPathComponent(first) && (!more || !isHostPort(first)) {
		return false
	}
	for more {
		var c string
		c, rest, more = strings.Cut(rest, "/")
		if !isPathComponent(c) {
			return false
		}
	}
	return true
}

// isPathComponent matches [a-z0-9]+ joined by ".", "_", "__" or a run of "-": every separator
// sits between two lower-case alphanumerics.
func isPathComponent(c string) bool {
	if c == "" || !isLowerAlnum(c[0]) {
		return false
	}
	for i := 1; i < len(c); {
		switch ch := c[i]; {
		case isLowerAlnum(ch):
			i++
			continue
		case ch == '.':
			i++
		case ch == '_':
			i++
			if i < len(c) && c[i] == '_' {
				i++
			}
		case ch == '-':
			for i < len(c) && c[i] == '-' {
				i++
			}
		default:
			return false
		}
		if i == len(c) || !isLowerAlnum(c[i]) {
			return false
		}
	}
	return true
}

// isHostPort matches a DNS-style host of alphanumeric labels (hyphens inside) joined by
// ".", then an optional ":port" of digits. IPv6 hosts are left to the library.
func isHostPort(h string) bool {
	host, port, hasPort := strings.Cut(h, ":")
	if hasPort && (port == "" || strings.TrimLeft(port, "0123456789") != "") {
		return false
	}
	for label := range strings.SplitSeq(host, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isAlnum(c) && c != '-' {
				return false
			}
		}
	}
	return true
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isLowerAlnum(c byte) bool { return isDigit(c) || (c >= 'a' && c <= 'z') }
func isAlnum(c byte) bool      { return isLowerAlnum(c) || (c >= 'A' && c <= 'Z') }
func isWord(c byte) bool       { return isAlnum(c) || c == '_' }
