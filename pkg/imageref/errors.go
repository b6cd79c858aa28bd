package imageref

import (
	"errors"
	"strconv"
	"strings"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// InvalidReferenceError is an image reference in an object that does not parse. It names the
// object, the field path and the value as written; Err is the parse error.
//
// Its message is the one `oc adm prune images` prints when it aborts:
//
//	pod/pod-8 namespace=ns-0: container app: invalid image reference "Registry.Example.com/NS/App:Tag": repository name must be lowercase
//
// that is: the lower-case kind and name, " namespace=NS" for namespaced objects, the container
// ("container X" or "init container X") for container images, nothing for a build strategy's
// `from`, then "invalid image|ImageStreamTag|ImageStreamImage reference" with the quoted value
// and the reason. References oc does not read (ephemeral containers, triggers, build source
// images, image stream spec tags) name their field path where oc would name the container.
type InvalidReferenceError struct {
	Object    model.ObjectKey
	FieldPath string
	// Container is the container holding the reference, or empty.
	Container string
	Kind      model.RefKind
	// Value is the reference as written.
	Value string
	Err   error
}

// NewInvalidReferenceError builds the error for ref, an invalid reference of obj, for instance
// one read back from the index. Err is a plain error with the text of ref.Invalid, so errors.Is
// against the parser's sentinel errors only holds for errors built by the extractors.
func NewInvalidReferenceError(obj model.ObjectKey, ref model.Ref) *InvalidReferenceError {
	return &InvalidReferenceError{
		Object:    obj,
		FieldPath: ref.FieldPath,
		Container: ref.Container,
		Kind:      ref.Kind,
		Value:     ref.Raw,
		Err:       errors.New(ref.Invalid),
	}
}

// Error returns oc's message; see the type's comment.
func (e *InvalidReferenceError) Error() string {
	var b strings.Builder
	b.WriteString(strings.ToLower(e.Object.Kind))
	b.WriteByte('/')
	b.WriteString(e.Object.Name)
	if e.Object.Namespace != "" {
		b.WriteString(" namespace=")
		b.WriteString(e.Object.Namespace)
	}
	if sub := e.subreferrer(); sub != "" {
		b.WriteString(": ")
		b.WriteString(sub)
	}
	b.WriteString(": invalid ")
	b.WriteString(targetName(e.Kind))
	b.WriteString(" reference ")
	b.WriteString(strconv.Quote(e.Value))
	b.WriteString(": ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the parse error.
func (e *InvalidReferenceError) Unwrap() error { return e.Err }

// subreferrer is the part oc prints between the object and the message: the container for
// container images, nothing for a build strategy's from, the field path for anything else.
func (e *InvalidReferenceError) subreferrer() string {
	if e.Container != "" {
		suffix := "[" + e.Container + "].image"
		if head, ok := strings.CutSuffix(e.FieldPath, suffix); ok {
			switch {
			case strings.HasSuffix(head, "initContainers"):
				return "init container " + e.Container
			case strings.HasSuffix(head, "ephemeralContainers"):
				return "ephemeral container " + e.Container
			case strings.HasSuffix(head, "containers"):
				return "container " + e.Container
			}
		}
	}
	if isStrategyFrom(e.FieldPath) {
		return ""
	}
	return e.FieldPath
}

// Field paths of the `from` of the three build strategies. oc names no subreferrer for an
// invalid reference there, so the message leaves the path out for exactly these paths.
const (
	SourceStrategyFromPath = "spec.strategy.sourceStrategy.from"
	DockerStrategyFromPath = "spec.strategy.dockerStrategy.from"
	CustomStrategyFromPath = "spec.strategy.customStrategy.from"
)

func isStrategyFrom(path string) bool {
	switch path {
	case SourceStrategyFromPath, DockerStrategyFromPath, CustomStrategyFromPath:
		return true
	}
	return false
}

// targetName is the word oc uses for what the reference points to.
func targetName(k model.RefKind) string {
	if k == model.RefDockerImage || k == "" {
		return "image"
	}
	return string(k)
}
