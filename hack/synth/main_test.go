package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunWritesTheSameDumpTwice(t *testing.T) {
	dir := t.TempDir()
	args := func(out string) []string {
		return []string{"-images", "200", "-seed", "3", "-now", "2026-11-27T00:00:00Z", "-o", out}
	}
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	for _, f := range []string{a, b} {
		if err := run(args(f), nil); err != nil {
			t.Fatal(err)
		}
	}
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if len(da) == 0 || !bytes.Equal(da, db) {
		t.Fatalf("dumps differ or are empty (%d and %d bytes)", len(da), len(db))
	}
	var list struct {
		Kind  string            `json:"kind"`
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(da, &list); err != nil || list.Kind != "List" || len(list.Items) == 0 {
		t.Fatalf("dump is not a List with items: %v", err)
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	for name, args := range map[string][]string{
		"no -now":          {"-size", "S"},
		"a malformed -now": {"-now", "yesterday"},
		"an unknown size":  {"-size", "XL", "-now", "2026-11-27T00:00:00Z"},
	} {
		t.Run(name, func(t *testing.T) {
			var out strings.Builder
			if err := run(args, &out); err == nil {
				t.Fatalf("run(%v) succeeded", args)
			}
		})
	}
}
