package pruner

import (
	"context"
	"errors"
	"time"
)

// holdForInvalid reports whether a pass must not delete plan because of invalid references,
// as `prune images` deletes nothing while a counted referrer holds one (unless
// --ignore-invalid-refs).
//
// An object whose reference cannot be parsed reaches the index as an object record without
// reverse entries, so the change feed reports nothing for it and no candidate is planned
// because of it; only a read of every object finds it. A pass that would delete therefore
// checks again when the last check (its own or the full round's) is older than
// InvalidCheckInterval; a pass that deletes nothing never pays for it. While invalid
// references are known, the check is repeated at that interval, so that a fix lets the
// held candidates go without waiting for the full round.
//
// err is set when the check could not read the index; the pass is held then too.
func (c *Continuous) holdForInvalid(ctx context.Context, policy Policy, plan *Plan) (bool, error) {
	if policy.IgnoreInvalidRefs || (len(plan.Streams) == 0 && len(plan.Images) == 0) {
		return false, nil
	}
	if time.Since(c.checkedAt) < c.o.InvalidCheckInterval {
		if c.invalid {
			c.o.Logger.V(1).Info("invalid references found; the pass deletes nothing", "checked", c.checkedAt)
		}
		return c.invalid, nil
	}
	err := CheckReferences(ctx, c.lists, policy)
	c.checkedAt = time.Now()
	found := errors.Is(err, ErrInvalidReferences)
	if err != nil && !found {
		return true, err
	}
	switch {
	case found && !c.invalid:
		c.o.Logger.Error(err, "invalid references found; nothing is pruned until they are fixed")
	case !found && c.invalid:
		c.o.Logger.Info("no invalid references are left; pruning resumes")
	}
	c.invalid = found
	return found, nil
}
