package cli

import "fmt"

// errPlanned is returned by commands whose help is written but whose work is not built yet; the
// message says so plainly instead of pretending to succeed.
func errPlanned(name string) error {
	return &ExitError{Code: 3, Err: fmt.Errorf("%q is not available in this build yet; see --help for what it will do", name)}
}
