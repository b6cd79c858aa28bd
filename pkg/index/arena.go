package index

// byteArena hands out the bytes of the keys and values that one batch of ops builds, from
// shared chunks: an update of a pod builds its record's key, its record and a key and a value
// per reverse entry it rewrites, an allocation each until the arena (BenchmarkApply,
// moving-refs: 95 → 87 allocations per update). A chunk's bytes are never handed out twice:
// the write log, Badger's transaction (until its commit) and readers of a batch in flight
// hold slices of it, and the garbage collector frees it with the last of them.
type byteArena struct {
	// free is the unused rest of the current chunk: empty, with the rest as its capacity.
	free []byte
}

// arenaChunk is the size of a chunk: a batch of applyBatch pod updates builds 25–50 KiB, so
// a batch takes a few chunks, and the next batch goes on with the rest of the last one.
const arenaChunk = 32 << 10

// start returns an empty slice to which up to n bytes can be appended without allocating;
// finish takes what was appended out of the arena. Appending more than n bytes is correct,
// only slower: append then copies the bytes out of the arena.
func (a *byteArena) start(n int) []byte {
	if cap(a.free) < n {
		if n > arenaChunk/4 {
			return make([]byte, 0, n) // would waste most of a chunk
		}
		a.free = make([]byte, 0, arenaChunk)
	}
	return a.free
}

// finish returns b, built by appending to the result of start, with its capacity cut to
// its length, so that no later append writes into the arena; the arena's next start begins
// after b.
func (a *byteArena) finish(b []byte) []byte {
	if len(b) > 0 && cap(a.free) > 0 && &b[0] == &a.free[:1][0] {
		a.free = a.free[len(b):len(b)]
	}
	return b[:len(b):len(b)]
}
