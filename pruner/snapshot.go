package pruner

import (
	"context"
	"fmt"
	"sort"

	"github.com/pruneguard/pruneguard/pkg/model"
)

// streamSnapshot remembers, per image stream, the distinct images its status items named
// when the continuous mode last read it. The index's change feed says that a stream changed,
// not which items it lost; comparing the stream with its snapshot names the images that may
// have lost their last item (stage 2 candidates), including every image of a deleted stream.
//
// It holds one sorted digest slice per stream, built by the full round that starts the
// leader's work and updated by every stream candidate.
type streamSnapshot struct {
	images map[string][]string
}

func newStreamSnapshot() *streamSnapshot { return &streamSnapshot{images: map[string][]string{}} }

// load replaces the snapshot with every stream of the index.
func (s *streamSnapshot) load(ctx context.Context, r model.Reader) error {
	images := map[string][]string{}
	err := r.Streams(ctx, "", func(st model.Stream) error {
		images[st.Repo()] = streamDigests(st)
		return nil
	})
	if err != nil {
		return fmt.Errorf("failed to read the image streams: %w", err)
	}
	s.images = images
	return nil
}

// update records st (ok false: the stream repo is gone) and returns the images the previous
// snapshot named that the stream names no more.
func (s *streamSnapshot) update(repo string, st model.Stream, ok bool) []string {
	old := s.images[repo]
	if !ok {
		delete(s.images, repo)
		return old
	}
	cur := streamDigests(st)
	s.images[repo] = cur
	var lost []string
	for _, d := range old {
		if i := sort.SearchStrings(cur, d); i == len(cur) || cur[i] != d {
			lost = append(lost, d)
		}
	}
	return lost
}

// streamDigests returns the distinct images of st's items, sorted.
func streamDigests(st model.Stream) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range st.Tags {
		for _, it := range t.Items {
			if !seen[it.Image] {
				seen[it.Image] = true
				out = append(out, it.Image)
			}
		}
	}
	sort.Strings(out)
	return out
}
