package index

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/dgraph-io/badger/v4"
)

// Stats describes the index for `pruneguard index stats`.
type Stats struct {
	// Status is what Open found.
	Status Status
	// Keys counts keys per kind (the names of keys.go's prefixes, e.g. "ref-by-digest");
	// reverse entries are split into confirmed and pending ("ref-by-digest/pending").
	Keys map[string]int64
	// Files sums the index directory's files by role: "sst" (LSM tables), "vlog" (value
	// log), "mem" (memtable write-ahead logs) and "other" (manifest, keys, lock).
	Files map[string]DiskUsage
}

// DiskUsage is the size of some files: Bytes as their length, Allocated as the blocks the
// file system holds for them (smaller for sparse, preallocated files such as Badger's logs).
type DiskUsage struct {
	Files     int
	Bytes     int64
	Allocated int64
}

// Stats counts every key of the index (a key-only scan; it reads no values) and reports the
// on-disk sizes Badger tracks.
func (ix *Index) Stats(ctx context.Context) (Stats, error) {
	st := Stats{Status: ix.status, Keys: map[string]int64{}}
	err := ix.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			st.Keys[statsKind(it.Item().Key())]++
		}
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("failed to count index keys: %w", err)
	}
	if st.Files, err = DirUsage(ix.dir); err != nil {
		return Stats{}, err
	}
	return st, nil
}

func statsKind(key []byte) string {
	name, ok := keyKindNames[key[0]]
	if !ok {
		return "unknown"
	}
	if key[0] == prefixRefDigest || key[0] == prefixRefTag {
		if p, err := parseKey(key); err == nil && p.State == statePending {
			return name + "/pending"
		}
	}
	return name
}

// Lines renders the stats one fact per line, kinds sorted by name.
func (s Stats) Lines() []string {
	kinds := make([]string, 0, len(s.Keys))
	for k := range s.Keys {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	lines := []string{"status: " + s.Status.String()}
	for _, k := range kinds {
		lines = append(lines, fmt.Sprintf("keys %s: %d", k, s.Keys[k]))
	}
	roles := make([]string, 0, len(s.Files))
	for r := range s.Files {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	for _, r := range roles {
		u := s.Files[r]
		lines = append(lines, fmt.Sprintf("files %s: %d, %d bytes, %d bytes allocated", r, u.Files, u.Bytes, u.Allocated))
	}
	return lines
}

// DirUsage sums the files of a Badger directory by role (see Stats.Files).
func DirUsage(dir string) (map[string]DiskUsage, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("failed to read index directory %s: %w", dir, err)
	}
	out := map[string]DiskUsage{}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue // removed by a compaction since ReadDir
		}
		role := strings.TrimPrefix(filepath.Ext(e.Name()), ".")
		if role != "sst" && role != "vlog" && role != "mem" {
			role = "other"
		}
		u := out[role]
		u.Files++
		u.Bytes += info.Size()
		u.Allocated += allocated(info)
		out[role] = u
	}
	return out, nil
}

func allocated(info os.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512 // st_blocks counts 512-byte units whatever the block size
	}
	return info.Size()
}
