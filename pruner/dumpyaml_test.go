package pruner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/pruneguard/pruneguard/pkg/synth"
)

func TestReadYAMLDump(t *testing.T) {
	pod := func(indent, name string) string {
		return indent + "- apiVersion: v1\n" + indent + "  kind: Pod\n" + indent + "  metadata:\n" + indent + "    name: " + name + "\n"
	}
	cases := []struct {
		name, dump string
		want       []string
		wantErr    string
	}{
		{name: "a List's entries at column 0 are passed one by one, fields before and after ignored",
			dump: "apiVersion: v1\nitems:\n" + pod("", "a") + pod("", "b") + "kind: List\nmetadata:\n  resourceVersion: \"\"\n",
			want: []string{"a", "b"}},
		{name: "an indented sequence is read the same",
			dump: "kind: List\nitems:\n" + pod("  ", "a") + pod("  ", "b"),
			want: []string{"a", "b"}},
		{name: "an entry whose dash stands alone on its line is read",
			dump: "kind: List\nitems:\n-\n  kind: Pod\n  apiVersion: v1\n  metadata:\n    name: a\n" + pod("", "b"),
			want: []string{"a", "b"}},
		{name: "blank lines and comments between entries are skipped",
			dump: "kind: List\nitems:\n\n# first\n" + pod("", "a") + "\n  # inside\n" + pod("", "b") + "# after\nkind: List\n",
			want: []string{"a", "b"}},
		{name: "a block scalar holding dashes and an items line stays in its entry",
			dump: "kind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: a\n    annotations:\n      note: |\n        items:\n        - not an entry\n      x: y\n" + pod("", "b"),
			want: []string{"a", "b"}},
		{name: "an empty flow items field is an empty List",
			dump: "kind: List\nitems: []\n"},
		{name: "a flow items sequence is read with the document",
			dump: "kind: List\nitems: [{apiVersion: v1, kind: Pod, metadata: {name: a}}]\n",
			want: []string{"a"}},
		{name: "an items field that is a mapping makes an object, not a List",
			dump: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: c\nitems:\n  x: 1\n",
			want: []string{"c"}},
		{name: "an items line with nothing after it is a null field of an object",
			dump: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: c\nitems:\n",
			want: []string{"c"}},
		{name: "Lists and objects in several documents, separators with comments, CRLF and no final line break",
			dump: strings.ReplaceAll("kind: List\nitems:\n"+pod("", "a")+"--- # next\napiVersion: v1\nkind: Pod\nmetadata:\n  name: b\n---\n\n---\nkind: List\nitems:\n"+strings.TrimSuffix(pod("  ", "c"), "\n"), "\n", "\r\n"),
			want: []string{"a", "b", "c"}},
		{name: "an entry that is not YAML names its document and entry",
			dump:    "kind: List\nitems:\n" + pod("", "a") + "- apiVersion: v1\n  metadata: {name: [\n",
			want:    []string{"a"},
			wantErr: "document 1 of the dump: failed to decode item 1"},
		{name: "the fields around the entries must still be YAML",
			dump:    "kind: List\nitems:\n" + pod("", "a") + "metadata: {a: [\n",
			want:    []string{"a"},
			wantErr: "document 1 of the dump: failed to decode the document"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := names(strings.NewReader(c.dump))
			if c.wantErr == "" && err != nil {
				t.Fatalf("readDump: %v", err)
			}
			if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("readDump error = %v, want one containing %q", err, c.wantErr)
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Fatalf("passed %q, want %q", got, c.want)
			}
		})
	}
}

func names(in io.Reader) ([]string, error) {
	var got []string
	err := readDump(in, func(raw []byte) error {
		var o struct {
			Metadata struct{ Name string } `json:"metadata"`
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			return fmt.Errorf("passed an object that does not parse: %w: %s", err, raw)
		}
		got = append(got, o.Metadata.Name)
		return nil
	})
	return got, err
}

// TestReadYAMLDumpMatchesJSON reads a synthetic cluster written as one JSON List and as the
// same List in YAML: both pass the same objects in the same order.
func TestReadYAMLDumpMatchesJSON(t *testing.T) {
	cl, err := synth.Generate(synth.Options{Size: synth.Small, Seed: 5, Now: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	var js bytes.Buffer
	if err := synth.WriteDump(&js, cl); err != nil {
		t.Fatal(err)
	}
	y, err := sigsyaml.JSONToYAML(js.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, fromYAML := objects(t, js.Bytes()), objects(t, y)
	if len(fromJSON) < 1000 {
		t.Fatalf("only %d objects in the synthetic cluster", len(fromJSON))
	}
	if len(fromJSON) != len(fromYAML) {
		t.Fatalf("%d objects from JSON, %d from YAML", len(fromJSON), len(fromYAML))
	}
	for i := range fromJSON {
		if !reflect.DeepEqual(fromJSON[i], fromYAML[i]) {
			t.Fatalf("object %d differs:\nJSON %v\nYAML %v", i, fromJSON[i], fromYAML[i])
		}
	}
}

func objects(t *testing.T, dump []byte) []any {
	t.Helper()
	var out []any
	err := readDump(bytes.NewReader(dump), func(raw []byte) error {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// bigYAMLList writes a YAML List of n pods on demand and counts the bytes read.
type bigYAMLList struct {
	n, next int
	pending []byte
	read    int
	closed  bool
}

func (l *bigYAMLList) Read(p []byte) (int, error) {
	for len(l.pending) == 0 {
		switch {
		case l.next == 0 && !l.closed && l.pending == nil:
			l.pending = []byte("apiVersion: v1\nitems:\n")
		case l.next < l.n:
			l.pending = fmt.Appendf(l.pending[:0], "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: pod-%d\n    namespace: ns\n  spec:\n    containers:\n    - name: app\n      image: quay.io/a/b:%d\n", l.next, l.next)
			l.next++
		case !l.closed:
			l.pending = []byte("kind: List\nmetadata:\n  resourceVersion: \"\"\n")
			l.closed = true
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, l.pending)
	l.pending = l.pending[n:]
	l.read += n
	return n, nil
}

// TestReadYAMLDumpStreamsABigList passes the first entry of a List of 30,000 pods (some 5
// MB) before the reader has read more than its first buffer (256 KiB) of it, and every entry
// in order.
func TestReadYAMLDumpStreamsABigList(t *testing.T) {
	l := &bigYAMLList{n: 30000}
	readAtFirst, count := -1, 0
	err := readDump(l, func(raw []byte) error {
		if readAtFirst < 0 {
			readAtFirst = l.read
		}
		var o struct {
			Metadata struct{ Name string } `json:"metadata"`
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			return err
		}
		if want := fmt.Sprintf("pod-%d", count); o.Metadata.Name != want {
			return fmt.Errorf("entry %d is %s, want %s", count, o.Metadata.Name, want)
		}
		count++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if count != l.n {
		t.Fatalf("passed %d entries, want %d", count, l.n)
	}
	if readAtFirst > 512<<10 || l.read < 4<<20 {
		t.Fatalf("the first entry was passed after %d bytes of %d", readAtFirst, l.read)
	}
}
