package pruner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	sigsjson "sigs.k8s.io/json"

	"github.com/pruneguard/pruneguard/pkg/slim"
)

// dumpTypes decodes the objects of a dump into their typed forms.
type dumpTypes struct {
	scheme *runtime.Scheme
	// full decodes every field of every object, skipping the slim types of pkg/slim (the
	// tests compare both decodes).
	full bool
}

// decode returns the typed object that raw (one JSON object) encodes, or nil for an object
// without apiVersion or kind or of a kind the scheme does not know. It reads apiVersion and
// kind with a scan of the top-level fields instead of a first full decode, which cost a
// quarter of the load, then decodes as the API machinery's JSON serializer does
// (case-sensitive field names, integers kept as int64), without conversion or defaulting:
// the kinds the extraction reads through their slim types (pkg/slim), any other kind whole.
func (d dumpTypes) decode(raw []byte) (runtime.Object, error) {
	apiVersion, kind, err := typeOf(raw)
	if err != nil {
		return nil, err
	}
	if apiVersion == "" || kind == "" {
		return nil, nil
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, nil // not an API object the pruner reads
	}
	gvk := gv.WithKind(kind)
	if slim.Known(gvk) && !d.full {
		obj, err := slim.Decode(dumpJSON, gvk, raw)
		if err != nil {
			return nil, fmt.Errorf("failed to decode %s: %w", gvk, err)
		}
		obj.GetObjectKind().SetGroupVersionKind(gvk)
		return obj, nil
	}
	obj, err := d.scheme.New(gvk)
	if runtime.IsNotRegisteredError(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to create a %s: %w", gvk, err)
	}
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(raw, obj); err != nil {
		return nil, fmt.Errorf("failed to decode %s: %w", gvk, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return obj, nil
}

// typeOf returns the apiVersion and kind fields of the JSON object raw, which the dump's
// decoder has already checked to be valid JSON, skipping every other field unread.
func typeOf(raw []byte) (apiVersion, kind string, err error) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return "", "", fmt.Errorf("the object does not start with '{'")
	}
	i = skipSpace(raw, i+1)
	for i < len(raw) && raw[i] == '"' {
		end := skipString(raw, i)
		key := string(raw[i+1 : end-1])
		i = skipSpace(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return "", "", fmt.Errorf("no ':' after field %q", key)
		}
		start := skipSpace(raw, i+1)
		i = skipValue(raw, start)
		if key == "apiVersion" || key == "kind" {
			s, err := jsonString(raw[start:i])
			if err != nil {
				return "", "", fmt.Errorf("failed to decode field %q: %w", key, err)
			}
			if key == "kind" {
				kind = s
			} else {
				apiVersion = s
			}
		}
		i = skipSpace(raw, i)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	return apiVersion, kind, nil
}

// jsonString decodes the JSON string v; one without escapes is taken as it is, which is
// most of the cost of typeOf saved.
func jsonString(v []byte) (string, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' && bytes.IndexByte(v, '\\') < 0 && utf8.Valid(v) {
		plain := true
		for _, c := range v[1 : len(v)-1] {
			if c < 0x20 || c == '"' {
				plain = false
				break
			}
		}
		if plain {
			return string(v[1 : len(v)-1]), nil
		}
	}
	var s string
	err := json.Unmarshal(v, &s)
	return s, err
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] ('"').
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch c := b[i]; {
		case c == '"':
			i = skipString(b, i)
			if depth == 0 {
				return i
			}
			continue
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth == 0 {
				return i
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case depth == 0 && (c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t'):
			return i
		}
		i++
	}
	return i
}
