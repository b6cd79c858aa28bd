package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// BinDirEnv names the environment variable that points at the tool directory. The Makefile
// exports it; without it the directory is found as ./bin of the enclosing pruneguard module.
const BinDirEnv = "PRUNEGUARD_BIN_DIR"

// ErrToolMissing is returned by Tool when a pinned tool has not been built.
var ErrToolMissing = errors.New("tool not built: run `make tools` first")

// BinDir returns the directory that holds the pinned tools.
func BinDir() (string, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		return dir, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "bin"), nil
}

// ModuleRoot returns the directory of pruneguard's go.mod, searched upwards from the working
// directory (go test runs tests in their package directory).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && len(data) > 0 && isPruneguardModule(data) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no pruneguard go.mod above the working directory; set %s", BinDirEnv)
		}
		dir = parent
	}
}

func isPruneguardModule(gomod []byte) bool {
	const want = "module github.com/pruneguard/pruneguard\n"
	return len(gomod) >= len(want) && string(gomod[:len(want)]) == want
}

// Tool returns the path of a pinned tool in BinDir, or an error wrapping ErrToolMissing.
func Tool(name string) (string, error) {
	dir, err := BinDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s not found in %s: %w", name, dir, ErrToolMissing)
	}
	return path, nil
}
