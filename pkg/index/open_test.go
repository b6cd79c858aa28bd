package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/go-logr/logr/funcr"
)

func reopen(t *testing.T, dir string) *Index {
	t.Helper()
	ix, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func TestOpenReportsWhetherTheIndexMustBeRebuilt(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "index")
	ix := reopen(t, dir)
	if ix.Status() != StatusNew || !ix.Status().NeedsRebuild() {
		t.Fatalf("an empty directory opens as new, got %s", ix.Status())
	}
	rb, err := ix.BeginRebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Apply(ctx, PutObject(podObject("a", ""))); !errors.Is(err, ErrRebuilding) {
		t.Fatalf("writes during a rebuild fail with ErrRebuilding, got %v", err)
	}
	if err := rb.PutObject(podObject("a", "", tagRef("f", "ns/is", "latest"))); err != nil {
		t.Fatal(err)
	}
	_ = ix.Close()

	ix = reopen(t, dir)
	if ix.Status() != StatusIncomplete {
		t.Fatalf("a rebuild that never finished opens as incomplete, got %s", ix.Status())
	}
	rb, err = ix.BeginRebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := rb.PutObject(podObject("b", "", tagRef("f", "ns/is", "latest"))); err != nil {
		t.Fatal(err)
	}
	if err := rb.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	if got := referrersOfTag(t, ix, "ns/is", "latest"); !equalStrings(got, []string{"Pod/ns/b f"}) {
		t.Fatalf("a rebuild starts from an empty index: got %v", got)
	}
	_ = ix.Close()

	ix = reopen(t, dir)
	if ix.Status() != StatusReady {
		t.Fatalf("a finished rebuild opens ready, got %s", ix.Status())
	}
	// Pretend an older pruneguard wrote this index.
	err = ix.db.Update(func(txn *badger.Txn) error {
		return txn.Set(metaKey(metaSchema), binary.BigEndian.AppendUint32(nil, SchemaVersion-1))
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = ix.Close()

	ix = reopen(t, dir)
	defer func() { _ = ix.Close() }()
	if ix.Status() != StatusSchemaChanged {
		t.Fatalf("another schema version opens as schema-changed, got %s", ix.Status())
	}
	if got := referrersOfTag(t, ix, "ns/is", "latest"); len(got) != 0 {
		t.Fatalf("an index of another schema is wiped, still has %v", got)
	}
}

func TestOpenReadOnlyNeverWipes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "index")
	ix := reopen(t, dir)
	mustApply(t, ix, PutObject(podObject("a", "", tagRef("f", "ns/is", "latest"))))
	_ = ix.db.Update(func(txn *badger.Txn) error { return txn.Set(metaKey(metaSchema), []byte{0, 0, 0, 0}) })
	_ = ix.Close()
	ro, err := Open(Options{Dir: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ro.Close() }()
	if ro.Status() != StatusSchemaChanged {
		t.Fatalf("got %s", ro.Status())
	}
	if got := referrersOfTag(t, ro, "ns/is", "latest"); len(got) != 1 {
		t.Fatalf("a read-only open must not wipe, got %v", got)
	}
}

func TestOpenRequiresADirectory(t *testing.T) {
	if _, err := Open(Options{}); err == nil {
		t.Fatal("opened without a directory")
	}
}

func TestBadgerMessagesGoToTheLogger(t *testing.T) {
	var buf bytes.Buffer
	log := funcr.New(func(prefix, args string) { buf.WriteString(prefix + " " + args + "\n") }, funcr.Options{Verbosity: 1})
	ix, _ := openTest(t, func(o *Options) { o.Logger = log })
	_ = ix.Close()
	out := buf.String()
	if !strings.Contains(out, `"badger"`) || !strings.Contains(out, `"detail"`) {
		t.Fatalf("expected Badger's messages as detail under a constant message, got:\n%s", out)
	}
	l := newBadgerLogger(log)
	buf.Reset()
	l.Errorf("disk %s full\n", "sda")
	if !strings.Contains(buf.String(), `"detail"="disk sda full"`) {
		t.Fatalf("errors keep their formatted text without the newline, got %s", buf.String())
	}
}

func TestStatsCountKeysPerKind(t *testing.T) {
	ix, _ := openTest(t)
	mustApply(t, ix,
		PutObject(podObject("a", "", digestRef("f", "ns/is", digestOf("x")), tagRef("g", "ns/is", "v1"))),
		PutPending(podObject("b", "", digestRef("f", "ns/is", digestOf("x"))), t0.Add(time.Hour)),
		PutImage(image("x", "l1", "l2")),
		PutStream(stream("ns", "is", map[string][]string{"v1": {"x"}})))
	st, err := ix.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"object": 1, "pending-object": 1, "pending-expiry": 1, "ref-by-digest": 1,
		"ref-by-digest/pending": 1, "ref-by-tag": 1, "image": 1, "blob-image": 3, "blob-count": 3,
		"stream": 1, "stream-item": 1, "repo-blob-count": 3, "meta": 1}
	for k, n := range want {
		if st.Keys[k] != n {
			t.Errorf("%s: %d keys, want %d", k, st.Keys[k], n)
		}
	}
	lines := strings.Join(st.Lines(), "\n")
	if !strings.Contains(lines, "keys ref-by-digest/pending: 1") || !strings.Contains(lines, "files ") {
		t.Errorf("stats lines:\n%s", lines)
	}
}

func TestOpenSurvivesAnEmptyMemtableLogLeftByAKill(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "index")
	ix := reopen(t, dir)
	rb, err := ix.BeginRebuild(ctx)
	must(t, err)
	must(t, rb.Finish(ctx))
	mustApply(t, ix, PutImage(image("kept")))
	must(t, ix.Close())
	// What a process killed inside Badger's deletion of a flushed memtable's log leaves.
	must(t, os.WriteFile(filepath.Join(dir, "00099.mem"), nil, 0o644))
	ix = reopen(t, dir)
	defer func() { _ = ix.Close() }()
	if _, found, err := ix.Image(ctx, digestOf("kept")); err != nil || !found || ix.Status() != StatusReady {
		t.Fatalf("want the index ready with its image, got found=%v status=%s err=%v", found, ix.Status(), err)
	}
}
