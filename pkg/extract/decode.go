package extract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/pruneguard/pruneguard/pkg/scheme"
)

// ErrUnknownKind is matched (errors.Is) by Decode's error for an object whose apiVersion and
// kind the scheme does not know. Callers reading dumps skip such objects.
var ErrUnknownKind = errors.New("kind not known to pruneguard")

// NewScheme returns a new scheme with the Kubernetes core, apps and batch groups and the
// OpenShift image, apps and build groups registered (it is pkg/scheme's, so that the whole
// program agrees on one set of types).
func NewScheme() *runtime.Scheme { return scheme.New() }

// Decoder decodes raw JSON or YAML objects into typed objects. It holds no mutable state and is
// safe for concurrent use.
type Decoder struct {
	decoder runtime.Decoder
}

// NewDecoder returns a Decoder for the types of NewScheme. Objects are decoded as they are
// written, without conversion or defaulting.
func NewDecoder() *Decoder {
	return &Decoder{decoder: serializer.NewCodecFactory(NewScheme()).UniversalDeserializer()}
}

// Decode decodes one object, JSON or YAML, that carries its apiVersion and kind. An object of
// a kind the scheme does not register gives an error matching ErrUnknownKind.
func (d *Decoder) Decode(data []byte) (runtime.Object, error) {
	obj, gvk, err := d.decoder.Decode(data, nil, nil)
	if err != nil {
		if runtime.IsNotRegisteredError(err) {
			return nil, fmt.Errorf("%w: %w", ErrUnknownKind, err)
		}
		return nil, fmt.Errorf("failed to decode object: %w", err)
	}
	if gvk != nil {
		// The deserializer clears TypeMeta on typed objects; keep it so callers can print it.
		obj.GetObjectKind().SetGroupVersionKind(*gvk)
	}
	return obj, nil
}

// listHead is what DecodeAll needs to see of a document to tell a List from an object.
type listHead struct {
	Kind  string            `json:"kind"`
	Items []json.RawMessage `json:"items"`
}

// DecodeAll reads a stream of JSON or YAML documents ("---"-separated), as `oc get -o yaml`
// or `-o json` prints them, and calls fn with every object in order. A document that is a List
// (kind ending in "List" with items) contributes its items. Objects of unknown kinds are
// skipped and counted; any other decoding error stops the read and names the document and item.
func (d *Decoder) DecodeAll(r io.Reader, fn func(runtime.Object) error) (skipped int, err error) {
	docs := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	for doc := 0; ; doc++ {
		var raw json.RawMessage
		if err := docs.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return skipped, nil
			}
			return skipped, fmt.Errorf("failed to read document %d: %w", doc, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			continue
		}
		items := []json.RawMessage{raw}
		var head listHead
		if err := json.Unmarshal(raw, &head); err != nil {
			return skipped, fmt.Errorf("failed to read document %d: %w", doc, err)
		}
		if strings.HasSuffix(head.Kind, "List") && head.Items != nil {
			items = head.Items
		}
		for i, item := range items {
			obj, err := d.Decode(item)
			if errors.Is(err, ErrUnknownKind) {
				skipped++
				continue
			}
			if err != nil {
				return skipped, fmt.Errorf("document %d item %d: %w", doc, i, err)
			}
			if err := fn(obj); err != nil {
				return skipped, err
			}
		}
	}
}
