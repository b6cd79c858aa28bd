package pruner

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode"

	jsoniter "github.com/json-iterator/go"
)

// dumpJSON decodes a dump's objects as the API machinery's JSON codec decodes them: field
// names are case-sensitive; names written with escape sequences are recognised.
var dumpJSON = jsoniter.Config{CaseSensitive: true, ValidateJsonRawMessage: true}.Froze()

// readDump calls fn with every object of a dump, one at a time, as raw JSON. A JSON dump is
// read token by token: the items of a List are passed one by one as the reader reaches them,
// so memory stays bounded by the largest object whatever the size of the List (decoding the
// whole List first took some 30 times the dump's size at 200,000 images). A YAML dump is read
// line by line: the items of a List document one at a time too (see yamlDocument), any other
// document whole.
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
		return readJSONDump(jsoniter.Parse(dumpJSON, br, 64<<10), fn)
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

// readJSONDump reads JSON documents one after another. json-iterator's reader scans the
// dump several times as fast as encoding/json's Decoder, and each item is copied out once.
func readJSONDump(it *jsoniter.Iterator, fn func([]byte) error) error {
	for doc := 1; ; doc++ {
		next := it.WhatIsNext()
		if next == jsoniter.InvalidValue && errors.Is(it.Error, io.EOF) {
			return nil
		}
		if it.Error != nil {
			return fmt.Errorf("failed to decode document %d of the dump: %w", doc, it.Error)
		}
		if next != jsoniter.ObjectValue {
			return fmt.Errorf("failed to decode document %d of the dump: found %s where an object starts", doc, valueName(next))
		}
		if err := readJSONDocument(it, fn); err != nil {
			return fmt.Errorf("document %d of the dump: %w", doc, err)
		}
	}
}

func valueName(v jsoniter.ValueType) string {
	switch v {
	case jsoniter.StringValue:
		return "a string"
	case jsoniter.NumberValue:
		return "a number"
	case jsoniter.NilValue:
		return "null"
	case jsoniter.BoolValue:
		return "a boolean"
	case jsoniter.ArrayValue:
		return "an array"
	}
	return "an invalid value"
}

// readJSONDocument reads the fields of one document, an object: the elements of an "items"
// array are passed to fn one at a time (the document is a List, as
// unstructured.Unstructured.IsList decides); without one, the document is itself an object,
// passed whole (less any "items" field that is not an array).
func readJSONDocument(it *jsoniter.Iterator, fn func([]byte) error) error {
	var fields []byte
	list := false
	var failed error
	it.ReadObjectCB(func(it *jsoniter.Iterator, key string) bool {
		if key != "items" {
			raw := it.SkipAndReturnBytes()
			if it.Error == nil && !list {
				fields = appendField(fields, key, raw)
			}
			return it.Error == nil
		}
		isArray, err := readJSONItems(it, fn)
		list = list || isArray
		failed = err
		return err == nil
	})
	if failed != nil {
		return failed
	}
	if it.Error != nil {
		return fmt.Errorf("failed to decode the document: %w", it.Error)
	}
	if list {
		return nil
	}
	if fields == nil {
		return fn([]byte("{}"))
	}
	return fn(append(fields, '}'))
}

// appendField appends "key":raw to the object being rebuilt in fields.
func appendField(fields []byte, key string, raw []byte) []byte {
	if fields == nil {
		fields = append(make([]byte, 0, 2*len(raw)+len(key)+4), '{')
	} else {
		fields = append(fields, ',')
	}
	name, _ := json.Marshal(key) // a string always encodes
	fields = append(append(fields, name...), ':')
	return append(fields, raw...)
}

// readJSONItems reads the value of an "items" field: each element of an array is passed to
// fn; any other value is skipped and reported as not an array.
func readJSONItems(it *jsoniter.Iterator, fn func([]byte) error) (bool, error) {
	if it.WhatIsNext() != jsoniter.ArrayValue {
		it.Skip()
		if it.Error != nil {
			return false, fmt.Errorf("failed to decode field \"items\": %w", it.Error)
		}
		return false, nil
	}
	i := 0
	var failed error
	it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
		raw := it.SkipAndReturnBytes()
		if it.Error != nil {
			failed = fmt.Errorf("failed to decode item %d: %w", i, it.Error)
			return false
		}
		if err := fn(raw); err != nil {
			failed = fmt.Errorf("item %d: %w", i, err)
			return false
		}
		i++
		return true
	})
	if failed != nil {
		return true, failed
	}
	if it.Error != nil {
		return true, fmt.Errorf("failed to decode item %d: %w", i, it.Error)
	}
	return true, nil
}

// readJSONBytes reads one document converted from YAML as readJSONDocument reads it.
func readJSONBytes(js []byte, fn func([]byte) error) error {
	if js = bytes.TrimSpace(js); len(js) == 0 || bytes.Equal(js, []byte("null")) {
		return nil // an empty document, e.g. after a trailing "---"
	}
	it := jsoniter.ParseBytes(dumpJSON, js)
	if it.WhatIsNext() != jsoniter.ObjectValue {
		return fmt.Errorf("it is not an object")
	}
	return readJSONDocument(it, fn)
}
