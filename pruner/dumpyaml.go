package pruner

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/util/yaml"
)

// readYAMLDump reads "---"-separated YAML documents line by line (a line starting with "---"
// and followed by nothing but a comment separates two documents, as the API machinery's YAML
// reader splits them). Each document is read by yamlDocument.
func readYAMLDump(br *bufio.Reader, fn func([]byte) error) error {
	lines := &yamlLines{br: br}
	for doc := 1; ; doc++ {
		d := yamlDocument{fn: fn}
		more, err := d.read(lines)
		if err != nil {
			return fmt.Errorf("document %d of the dump: %w", doc, err)
		}
		if !more {
			return nil
		}
	}
}

// yamlLines reads a YAML stream one line at a time.
type yamlLines struct {
	br   *bufio.Reader
	long []byte
}

// next returns the next line with its line break, valid until the following call, or io.EOF.
func (l *yamlLines) next() ([]byte, error) {
	line, err := l.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		l.long = append(l.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = l.br.ReadSlice('\n')
			l.long = append(l.long, line...)
		}
		line = l.long
	}
	if errors.Is(err, io.EOF) && len(line) > 0 {
		err = nil
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("failed to read the dump: %w", err)
	}
	return line, err
}

// yamlDocument reads one YAML document. A List as `oc get -o yaml` prints it has a top-level
// "items:" line followed by a block sequence; each entry of the sequence is cut from the
// lines as they come (an entry starts with "-" at the sequence's indentation and runs until
// the next such line or a line indented less) and converted to JSON alone, so a List of any
// size is held one item at a time. The other top-level fields are only checked to be valid
// YAML. Any other document is held whole and read as readJSONDocument reads JSON: an
// "items:" followed by anything but a block sequence, or written another way ("items": [],
// flow style), is read this way too. An alias in one item to an anchor in another (never
// printed by oc or kubectl) fails to convert.
type yamlDocument struct {
	fn func([]byte) error
	// head holds the document's lines outside the items.
	head []byte
	// inItems is set after the "items:" line until the sequence ends; seqIndent is the
	// sequence's indentation, -1 until its first entry.
	inItems, list bool
	seqIndent     int
	item          []byte
	n             int
}

// read reads the document's lines up to the next separator and reports whether one was
// found (another document follows).
func (d *yamlDocument) read(lines *yamlLines) (bool, error) {
	for {
		line, err := lines.next()
		if errors.Is(err, io.EOF) {
			return false, d.finish()
		}
		if err != nil {
			return false, err
		}
		if isDocumentSeparator(line) {
			return true, d.finish()
		}
		if err := d.line(line); err != nil {
			return false, err
		}
	}
}

func (d *yamlDocument) line(line []byte) error {
	if !d.inItems {
		if string(bytes.TrimRight(line, " \t\r\n")) == "items:" {
			d.inItems, d.seqIndent = true, -1
			return nil
		}
		d.head = append(d.head, line...)
		return nil
	}
	body := bytes.TrimLeft(line, " ")
	indent := len(line) - len(body)
	if rest := bytes.TrimRight(body, " \t\r\n"); len(rest) == 0 || rest[0] == '#' {
		if len(d.item) > 0 {
			d.item = append(d.item, line...)
		}
		return nil
	}
	entry := body[0] == '-' && (len(body) == 1 || body[1] == ' ' || body[1] == '\t' || body[1] == '\r' || body[1] == '\n')
	switch {
	case d.seqIndent < 0 && !entry:
		// Not a block sequence: the document is read whole.
		d.inItems = false
		d.head = append(append(d.head, "items:\n"...), line...)
	case d.seqIndent < 0 || (entry && indent == d.seqIndent):
		if err := d.flushItem(); err != nil {
			return err
		}
		d.seqIndent, d.list = indent, true
		d.item = append(append(d.item[:0], line[:indent]...), ' ')
		d.item = append(d.item, line[indent+1:]...)
	case indent > d.seqIndent:
		d.item = append(d.item, line...)
	default:
		if err := d.flushItem(); err != nil {
			return err
		}
		d.inItems = false
		return d.line(line)
	}
	return nil
}

// flushItem converts the entry cut so far and passes it on.
func (d *yamlDocument) flushItem() error {
	if len(d.item) == 0 {
		return nil
	}
	js, err := yaml.ToJSON(d.item)
	d.item = d.item[:0]
	if err != nil {
		return fmt.Errorf("failed to decode item %d: %w", d.n, err)
	}
	if err := d.fn(js); err != nil {
		return fmt.Errorf("item %d: %w", d.n, err)
	}
	d.n++
	return nil
}

// finish passes the last entry of a List, or the document itself.
func (d *yamlDocument) finish() error {
	if d.inItems {
		if err := d.flushItem(); err != nil {
			return err
		}
	}
	js, err := yaml.ToJSON(d.head)
	if err != nil {
		return fmt.Errorf("failed to decode the document: %w", err)
	}
	if d.list {
		return nil
	}
	// Without entries, an "items:" line was a null items field, which does not make a List.
	return readJSONBytes(js, d.fn)
}

// isDocumentSeparator reports whether line is "---" followed by nothing but white space or
// a comment.
func isDocumentSeparator(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, []byte("---"))
	if !ok {
		return false
	}
	rest = bytes.TrimSpace(rest)
	return len(rest) == 0 || rest[0] == '#'
}
