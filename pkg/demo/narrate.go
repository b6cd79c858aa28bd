package demo

import (
	"fmt"
	"io"
	"strings"
)

// narrator prints the demo's steps and commands.
type narrator struct {
	w    io.Writer
	step int
}

func (n *narrator) section(title string) {
	n.step++
	fmt.Fprintf(n.w, "\n\033[1m==> %d. %s\033[0m\n", n.step, title)
}

func (n *narrator) say(format string, args ...any) {
	fmt.Fprintf(n.w, "    "+format+"\n", args...)
}

func (n *narrator) command(args []string, out string) {
	fmt.Fprintf(n.w, "\n    $ pruneguard %s\n", strings.Join(args, " "))
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		fmt.Fprintf(n.w, "      %s\n", line)
	}
}

func (n *narrator) ok(format string, args ...any) {
	fmt.Fprintf(n.w, "    \033[32m✓\033[0m "+format+"\n", args...)
}

// CheckError is a demo step whose outcome was not the expected one.
type CheckError struct {
	Step   string
	Expect string
	Got    string
}

func (e *CheckError) Error() string {
	return fmt.Sprintf("demo step %q failed: expected %s, got %s", e.Step, e.Expect, e.Got)
}
