package pruner

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pruneguard/pruneguard/pkg/model"
)

func TestReadDump(t *testing.T) {
	pod := func(name string) string {
		return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `","namespace":"ns"}}`
	}
	cases := []struct {
		name, dump string
		// want are the names of the objects passed on, in order; "" for an object without one.
		want    []string
		wantErr string
	}{
		{name: "the items of a JSON List are passed one by one, whatever fields come first",
			dump: `{"apiVersion":"v1","metadata":{"resourceVersion":""},"items":[` + pod("a") + `,` + pod("b") + `],"kind":"List"}`,
			want: []string{"a", "b"}},
		{name: "JSON objects one after another are passed each",
			dump: pod("a") + "\n" + pod("b") + "\n",
			want: []string{"a", "b"}},
		{name: "an object whose items field is not an array is an object, not a List",
			dump: `{"apiVersion":"v1","kind":"Pod","items":{"x":[1,{"y":2}]},"metadata":{"name":"c"}}`,
			want: []string{"c"}},
		{name: "an empty List passes nothing",
			dump: `{"apiVersion":"v1","kind":"List","items":[]}`},
		{name: "an empty dump passes nothing", dump: "  \n"},
		{name: "YAML documents are passed each, Lists by item, empty documents skipped",
			dump: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: b\n- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: c\n---\n",
			want: []string{"a", "b", "c"}},
		{name: "a JSON item that does not parse names its document and item",
			dump:    `{"kind":"List","items":[` + pod("a") + `,{"kind":}]}`,
			want:    []string{"a"},
			wantErr: "document 1 of the dump: failed to decode item 1"},
		{name: "a JSON document that is not an object is refused",
			dump:    pod("a") + ` [1]`,
			want:    []string{"a"},
			wantErr: "failed to decode document 2 of the dump"},
		{name: "a YAML document that is not an object is refused",
			dump:    "- a\n- b\n",
			wantErr: "document 1 of the dump: it is not an object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			err := readDump(strings.NewReader(c.dump), func(raw []byte) error {
				var o struct {
					Metadata struct{ Name string } `json:"metadata"`
				}
				if err := json.Unmarshal(raw, &o); err != nil {
					t.Fatalf("passed an object that does not parse: %v: %s", err, raw)
				}
				got = append(got, o.Metadata.Name)
				return nil
			})
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

func TestOpenDumpSkipsUnknownAndDuplicates(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	image := func(size string) string {
		return `{"apiVersion":"image.openshift.io/v1","kind":"Image","metadata":{"name":"` + digest +
			`"},"dockerImageReference":"registry/ns/s@` + digest + `","dockerImageMetadata":{"Size":` + size + `}}`
	}
	dump := `{"kind":"List","items":[` + image("100") +
		`,{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"}}` +
		`,{"metadata":{"name":"kindless"}}` +
		`,` + image("200") + `]}`
	r, closeFn, err := OpenDump(context.Background(), strings.NewReader(dump), DumpOptions{TempDir: t.TempDir()})
	if err != nil {
		t.Fatalf("OpenDump: %v", err)
	}
	t.Cleanup(func() {
		if err := closeFn(); err != nil {
			t.Error(err)
		}
	})
	var sizes []int64
	err = r.Images(context.Background(), func(img model.Image) error {
		sizes = append(sizes, img.Size)
		return nil
	})
	if err != nil {
		t.Fatalf("Images: %v", err)
	}
	if len(sizes) != 1 || sizes[0] != 100 {
		t.Fatalf("loaded images of sizes %v, want the first of the two copies (100) only", sizes)
	}
}

func TestTypeOf(t *testing.T) {
	cases := []struct {
		name, raw, apiVersion, kind string
	}{
		{"apiVersion and kind are found after nested objects, arrays and escaped strings",
			`{"metadata":{"kind":"NotThis","a":[1,{"apiVersion":"no"}]},"s":"x\"kind\":\"Bad\\","n":-1.5e3,"t":true,"z":null,"kind":"Pod","apiVersion":"v1"}`,
			"v1", "Pod"},
		{"white space between tokens is skipped", "{ \"kind\" :\n\t\"Image\" , \"apiVersion\" : \"image.openshift.io/v1\" }",
			"image.openshift.io/v1", "Image"},
		{"an escaped value is unescaped", `{"kind":"P\u006fd"}`, "", "Pod"},
		{"invalid UTF-8 is replaced as encoding/json replaces it", "{\"kind\":\"P\xffd\"}", "", "P\uFFFDd"},
		{"an object without them has neither", `{"metadata":{"name":"a"}}`, "", ""},
		{"an empty object has neither", `{}`, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, k, err := typeOf([]byte(c.raw))
			if err != nil || v != c.apiVersion || k != c.kind {
				t.Fatalf("typeOf = %q, %q, %v; want %q, %q", v, k, err, c.apiVersion, c.kind)
			}
		})
	}
}

func TestBlobCounts(t *testing.T) {
	lower := "sha256:" + strings.Repeat("0f", 32)
	upper := "sha256:" + strings.Repeat("0F", 32)
	c := newBlobCounts()
	for _, d := range []string{lower, lower, upper, "sha512:abc", "sha256:short"} {
		c.add(d, 1)
	}
	cases := []struct {
		name, digest string
		want         int32
	}{
		{"a sha256 digest counted twice is 2", lower, 2},
		{"an uppercase digest is a different digest", upper, 1},
		{"another algorithm is counted by its string", "sha512:abc", 1},
		{"a malformed sha256 digest is counted by its string", "sha256:short", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.add(tc.digest, 0); got != tc.want {
				t.Fatalf("count of %s = %d, want %d", tc.digest, got, tc.want)
			}
		})
	}
	if len(c.sha256) != 1 {
		t.Fatalf("%d digests stored raw, want only the lowercase sha256 one", len(c.sha256))
	}
}
