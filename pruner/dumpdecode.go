package pruner

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode"

	"k8s.io/apimachinery/pkg/util/yaml"
)

// readDump calls fn with every object of a dump, one at a time, as raw JSON. A JSON dump is
// read token by token: the items of a List are decoded one by one as the decoder reaches them,
// so memory stays bounded by the largest object whatever the size of the List (decoding the
// whole List first took some 30 times the dump's size at 200,000 images). A YAML dump is read
// one document at a time, each converted to JSON; a List document is held whole.
func readDump(in io.Reader, fn func(raw []byte) error) error {
	br := bufio.NewReaderSize(in, 256<<10)
	first, err := firstByte(br)
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("failed to read the dump: %w", err)
	}
	if first == '{' {
		return readJSONDump(json.NewDecoder(br), fn)
	}
	return readYAMLDump(br, fn)
}

// firstByte returns the first byte of br that is not white space, without consuming it.
func firstByte(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if !unicode.IsSpace(rune(b)) {
			return b, br.UnreadByte()
		}
	}
}

// readJSONDump reads JSON documents one after another.
func readJSONDump(dec *json.Decoder, fn func([]byte) error) error {
	for doc := 1; ; doc++ {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("failed to decode document %d of the dump: %w", doc, err)
		}
		if tok != json.Delim('{') {
			return fmt.Errorf("failed to decode document %d of the dump: found %v where an object starts", doc, tok)
		}
		if err := readJSONDocument(dec, fn); err != nil {
			return fmt.Errorf("document %d of the dump: %w", doc, err)
		}
	}
}

// readJSONDocument reads the fields of one document whose '{' was read: the elements of an
// "items" array are passed to fn one at a time (the document is a List, as
// unstructured.Unstructured.IsList decides); without one, the document is itself an object.
func readJSONDocument(dec *json.Decoder, fn func([]byte) error) error {
	fields := map[string]json.RawMessage{}
	list := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("failed to decode a field name: %w", err)
		}
		key, _ := tok.(string)
		if key != "items" {
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return fmt.Errorf("failed to decode field %q: %w", key, err)
			}
			fields[key] = v
			continue
		}
		isArray, err := readJSONItems(dec, fn)
		if err != nil {
			return err
		}
		list = list || isArray
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return fmt.Errorf("failed to decode the end of the document: %w", err)
	}
	if list {
		return nil
	}
	raw, err := json.Marshal(fields)
	if err != nil {
		return fmt.Errorf("failed to re-encode the document: %w", err)
	}
	return fn(raw)
}

// readJSONItems reads the value of an "items" field: each element of an array is passed to
// fn; any other value is skipped and reported as not an array.
func readJSONItems(dec *json.Decoder, fn func([]byte) error) (bool, error) {
	tok, err := dec.Token()
	if err != nil {
		return false, fmt.Errorf("failed to decode field \"items\": %w", err)
	}
	switch tok {
	case json.Delim('['):
	case json.Delim('{'):
		return false, skipJSON(dec, 1)
	default:
		return false, nil // a scalar was consumed whole
	}
	for i := 0; dec.More(); i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return true, fmt.Errorf("failed to decode item %d: %w", i, err)
		}
		if err := fn(raw); err != nil {
			return true, fmt.Errorf("item %d: %w", i, err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return true, fmt.Errorf("failed to decode the end of the items: %w", err)
	}
	return true, nil
}

// skipJSON consumes tokens until depth open delimiters are closed.
func skipJSON(dec *json.Decoder, depth int) error {
	for depth > 0 {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("failed to decode field \"items\": %w", err)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// readYAMLDump reads "---"-separated YAML documents; each is converted to JSON and read as
// readJSONDocument reads it.
func readYAMLDump(br *bufio.Reader, fn func([]byte) error) error {
	docs := yaml.NewYAMLReader(br)
	for doc := 1; ; doc++ {
		data, err := docs.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("failed to read document %d of the dump: %w", doc, err)
		}
		js, err := yaml.ToJSON(data)
		if err != nil {
			return fmt.Errorf("failed to decode document %d of the dump: %w", doc, err)
		}
		if js = bytes.TrimSpace(js); len(js) == 0 || bytes.Equal(js, []byte("null")) {
			continue // an empty document, e.g. after a trailing "---"
		}
		dec := json.NewDecoder(bytes.NewReader(js))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return fmt.Errorf("failed to decode document %d of the dump: it is not an object", doc)
		}
		if err := readJSONDocument(dec, fn); err != nil {
			return fmt.Errorf("document %d of the dump: %w", doc, err)
		}
	}
}
