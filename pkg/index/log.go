package index

import (
	"fmt"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/go-logr/logr"
)

// badgerLogger adapts logr to Badger's printf-style Logger. Badger's messages are formatted
// text, so they travel as the value of the "detail" key under a constant message: errors as
// errors, warnings at the default level, info (compactions, flushes, replay) at V(1) and
// debug at V(2), since Badger's info level is chatty on a busy index.
type badgerLogger struct{ log logr.Logger }

var _ badger.Logger = badgerLogger{}

func newBadgerLogger(l logr.Logger) badgerLogger {
	return badgerLogger{log: l.WithName("badger")}
}

func detail(format string, args []any) string {
	return strings.TrimSpace(fmt.Sprintf(format, args...))
}

func (b badgerLogger) Errorf(format string, args ...any) {
	b.log.Error(nil, "badger error", "detail", detail(format, args))
}

func (b badgerLogger) Warningf(format string, args ...any) {
	b.log.Info("badger warning", "detail", detail(format, args))
}

func (b badgerLogger) Infof(format string, args ...any) {
	if v := b.log.V(1); v.Enabled() {
		v.Info("badger", "detail", detail(format, args))
	}
}

func (b badgerLogger) Debugf(format string, args ...any) {
	if v := b.log.V(2); v.Enabled() {
		v.Info("badger debug", "detail", detail(format, args))
	}
}
