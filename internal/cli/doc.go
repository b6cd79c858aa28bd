// Package cli builds pruneguard's command tree. Each subcommand lives in its own file, parses its
// flags into an options struct, validates them, and only then calls into the packages that do the
// work, so flag parsing and validation are tested without starting anything.
//
// The package must hold no global state: every command is built by a constructor that receives
// its streams, so tests build as many independent command trees as they like.
package cli
