package pruner

import (
	"context"
	"time"

	"github.com/pruneguard/pruneguard/pkg/index"
)

// Changes is what one committed index transaction changed: the index's change feed, the
// shared contract of the continuous mode (pkg/index, Changes).
type Changes = index.Changes

// ChangeFeed is the part of the live index the continuous mode listens to: a callback after
// every committed write, and the time-ordered lookups that find what passes the
// keep-younger-than cutoff next. *index.Index implements it.
type ChangeFeed interface {
	// OnCommit registers fn, called synchronously after every committed write with what it
	// changed; fn must be quick and must not write to the index. cancel unregisters it.
	OnCommit(fn func(Changes)) (cancel func())
	// ImagesCreatedBetween calls fn for every image created in (from, to], in creation order.
	ImagesCreatedBetween(ctx context.Context, from, to time.Time, fn func(digest string) error) error
	// StreamsWithItemsCreatedBetween calls fn once per stream ("NAMESPACE/STREAM") with a
	// status item created in (from, to].
	StreamsWithItemsCreatedBetween(ctx context.Context, from, to time.Time, fn func(stream string) error) error
}

var _ ChangeFeed = (*index.Index)(nil)
