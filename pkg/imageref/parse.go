package imageref

import (
	// go-digest validates a digest only if its hash is linked into the binary; without these,
	// every sha256 digest would be an "unsupported digest algorithm".
	_ "crypto/sha256"
	_ "crypto/sha512"
	"errors"
	"strings"

	"github.com/distribution/reference"
)

// DefaultTag is the tag a reference without tag and digest names, as the docker client assumes.
const DefaultTag = "latest"

// maxNameLength is the longest name, registry host included, that oc accepts. oc parses with
// library-go's copy of the older docker reference package, which applies the 255-character
// limit to the whole name; distribution/reference v0.6 applies it to the path only. Applying it
// to the whole name makes a reference that oc rejects invalid here too.
const maxNameLength = 255

// Reference is a parsed image pull spec, split the way oc's pruner splits it.
//
// The registry is the first path component only when it looks like a host: it contains "." or
// ":" or is "localhost". A name of one component that contains "." or starts with "localhost"
// ("quay.io", "localhost:5000", where 5000 is then the tag) is a bare registry with no name. Namespace is the component after the
// registry; Name is the rest and may contain "/". No defaults are applied: a reference written
// without a tag has an empty Tag.
type Reference struct {
	Registry  string
	Namespace string
	Name      string
	Tag       string
	Digest    string
}

// Parse parses s by the docker reference grammar. It does not trim, lowercase or normalise s:
// " a/b" and "A/b" are invalid, as they are for oc. The error is one of the
// distribution/reference sentinel errors (ErrNameEmpty, ErrNameContainsUppercase,
// ErrReferenceInvalidFormat, ErrNameTooLong) or a go-digest error for a digest of the right
// shape but the wrong length or algorithm; its text is the reason oc prints.
//
// IPv6 hosts ("[::1]:5000/ns/app") are accepted, as docker accepts them. oc's older parser
// rejects them; here such a reference protects its stream instead of aborting the prune, the
// conservative side of the difference.
func Parse(s string) (Reference, error) {
	if r, ok := parseFast(s); ok {
		return r, nil
	}
	return parseSlow(s)
}

// parseSlow parses with distribution/reference and applies oc's length rule and error order.
func parseSlow(s string) (Reference, error) {
	parsed, err := reference.Parse(s)
	if err != nil {
		return Reference{}, orderLikeOC(s, err)
	}
	named, ok := parsed.(reference.Named)
	if !ok {
		// The grammar requires a name, so Parse never returns an unnamed reference; guard
		// anyway so that a change in the library cannot panic here.
		return Reference{}, reference.ErrNameEmpty
	}
	name := named.Name()
	if len(name) > maxNameLength {
		return Reference{}, reference.ErrNameTooLong
	}
	var r Reference
	splitName(name, &r)
	if tagged, ok := parsed.(reference.Tagged); ok {
		r.Tag = tagged.Tag()
	}
	if digested, ok := parsed.(reference.Digested); ok {
		r.Digest = digested.Digest().String()
	}
	return r, nil
}

// orderLikeOC reports a name that is too long before a bad digest, the order in which the
// older parser oc uses checks them. distribution/reference checks the digest first when only
// the host makes the name too long.
func orderLikeOC(s string, err error) error {
	if isGrammarError(err) {
		return err
	}
	if m := reference.ReferenceRegexp.FindStringSubmatch(s); m != nil && len(m[1]) > maxNameLength {
		return reference.ErrNameTooLong
	}
	return err
}

func isGrammarError(err error) bool {
	return errors.Is(err, reference.ErrNameEmpty) ||
		errors.Is(err, reference.ErrNameContainsUppercase) ||
		errors.Is(err, reference.ErrReferenceInvalidFormat) ||
		errors.Is(err, reference.ErrNameTooLong)
}

// splitName fills Registry, Namespace and Name from a full repository name.
func splitName(name string, r *Reference) {
	i := strings.IndexByte(name, '/')
	if i < 0 {
		if strings.Contains(name, ".") || strings.HasPrefix(name, "localhost") {
			r.Registry = name
		} else {
			r.Name = name
		}
		return
	}
	if first := name[:i]; strings.ContainsAny(first, ".:") || first == "localhost" {
		r.Registry, name = first, name[i+1:]
	}
	if j := strings.IndexByte(name, '/'); j >= 0 {
		r.Namespace, r.Name = name[:j], name[j+1:]
		return
	}
	r.Name = name
}

// Repo returns "NAMESPACE/NAME", the image stream the reference can protect, or "" when the
// reference has no registry, no namespace, or a name of more than one segment: oc does not
// match such references against image streams.
func (r Reference) Repo() string {
	if !r.protects() {
		return ""
	}
	return r.Namespace + "/" + r.Name
}

func (r Reference) protects() bool {
	return r.Registry != "" && r.Namespace != "" && r.Name != "" && !strings.Contains(r.Name, "/")
}

// String returns the reference as written, without defaults.
func (r Reference) String() string {
	var b strings.Builder
	b.Grow(len(r.Registry) + len(r.Namespace) + len(r.Name) + len(r.Tag) + len(r.Digest) + 4)
	for _, part := range []string{r.Registry, r.Namespace, r.Name} {
		if part == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		b.WriteString(part)
	}
	if r.Tag != "" {
		b.WriteByte(':')
		b.WriteString(r.Tag)
	}
	if r.Digest != "" {
		b.WriteByte('@')
		b.WriteString(r.Digest)
	}
	return b.String()
}

// Normalized returns the reference with the docker client's defaults applied: registry
// "docker.io", namespace "library" on Docker Hub, and tag "latest" when the reference names
// neither tag nor digest. It is the form to show users and to compare pull specs by; it is not
// the key the pruner matches on (see Repo).
func (r Reference) Normalized() Reference {
	if r.Registry == "" {
		r.Registry = "docker.io"
	}
	if r.Namespace == "" && r.Name != "" && isDockerHub(r.Registry) {
		r.Namespace = "library"
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = DefaultTag
	}
	return r
}

func isDockerHub(registry string) bool {
	switch registry {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		return true
	}
	return false
}
