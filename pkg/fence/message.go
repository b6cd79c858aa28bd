package fence

import (
	"fmt"
	"time"
)

// message words a denial: what was refused, which fence, why, and when to try again.
func (c *Checker) message(d Denial) string {
	reason := ""
	if d.Reason != "" {
		reason = ": " + d.Reason
	}
	if d.Tombstone() {
		return fmt.Sprintf("pruneguard: %s was pruned at %s (fence %s%s); reference an image that exists, or push it again",
			imageOf(d), d.PrunedAt.UTC().Format(time.RFC3339), d.Fence, reason)
	}
	retry := c.RetryAfter
	if retry <= 0 {
		retry = DefaultRetryAfter
	}
	what := d.What
	if d.What != "image "+d.Image && d.Image != "" {
		what = fmt.Sprintf("%s (of image %s)", d.What, d.Image)
	}
	return fmt.Sprintf("pruneguard: %s is being pruned (fence %s%s); retry in %s, when the prune has finished, or reference another image",
		what, d.Fence, reason, retry.Round(time.Second))
}

func imageOf(d Denial) string {
	if d.Image != "" {
		return "image " + d.Image
	}
	return d.What
}
