// Package multicall makes the running executable aftershock's in-cluster
// programs, so that an installed aftershock binary needs no Go toolchain and
// no source tree: the sample app's image and the delay agent copied into a
// node are the executable itself, run under another name (the way busybox
// is).
//
// A program becomes multi-call by calling Main first thing in main (or in
// TestMain, for a test binary that deploys the sample app or injects delay):
// when invoked as "sampleapp", "aftershock-agent" or "aftershock-load" (the
// base name of argv[0], or AFTERSHOCK_ROLE, which the load pods set since
// their image holds the executable as /sampleapp) Main runs that role and
// exits; otherwise it returns at once.
//
// Bundle lists the files that carry the executable into a container or a
// node: the executable and, for a dynamically linked build (cgo, the default
// where a C compiler is present), its ELF interpreter and shared libraries.
//
// It does not build images or copy files itself (clusters and faults do).
package multicall

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/aftershock-dev/aftershock/clusters/multicall/internal/delay"
	"github.com/aftershock-dev/aftershock/clusters/multicall/internal/server"
	"github.com/aftershock-dev/aftershock/loadgen"
)

// Role names: the base name the executable is run under (or the value of
// the AFTERSHOCK_ROLE environment variable, for a container whose image
// holds the executable under one name).
const (
	SampleApp = "sampleapp"
	Agent     = "aftershock-agent"
	Load      = "aftershock-load"
)

// EnvRole selects the role regardless of the executable's name.
const EnvRole = loadgen.EnvRole

var roles = map[string]func(args []string) int{
	SampleApp: server.Main,
	Agent:     delay.Main,
	Load:      loadgen.PodMain,
}

// Main runs the role the process was invoked as and exits; for any other
// name it returns. Call it first in main or TestMain.
func Main() {
	if len(os.Args) == 0 {
		return
	}
	if r := os.Getenv(EnvRole); r != "" {
		run, ok := roles[r]
		if !ok {
			fmt.Fprintf(os.Stderr, "%s=%q: no such role\n", EnvRole, r)
			os.Exit(2)
		}
		os.Exit(run(os.Args[1:]))
	}
	if run, ok := roles[filepath.Base(os.Args[0])]; ok {
		os.Exit(run(os.Args[1:]))
	}
}

// Run runs role with args and returns its exit code (for a CLI subcommand
// that exposes a role, e.g. `aftershock sampleapp`).
func Run(role string, args []string) (int, error) {
	run, ok := roles[role]
	if !ok {
		return 2, fmt.Errorf("no role %q (have %s, %s, %s)", role, SampleApp, Agent, Load)
	}
	return run(args), nil
}

// File is one file of a bundle: Src on this machine, Dest in the image or
// node, at the same path the dynamic loader looks for it.
type File struct {
	Src, Dest string
}

// Bundle is what it takes to run an executable elsewhere on Linux/amd64.
type Bundle struct {
	// Exe is the executable's path on this machine.
	Exe string
	// Interpreter is the ELF interpreter's path (the same inside the image
	// or node), empty for a static executable.
	Interpreter string
	// Libs are the interpreter and shared libraries, at their own paths.
	Libs []File
}

// Static reports whether the executable runs without any library.
func (b Bundle) Static() bool { return b.Interpreter == "" }

// Executable returns the bundle of the running executable.
func Executable() (Bundle, error) {
	exe, err := os.Executable()
	if err != nil {
		return Bundle{}, fmt.Errorf("find the running executable: %w", err)
	}
	if p, err := filepath.EvalSymlinks(exe); err == nil {
		exe = p
	}
	return BundleOf(exe)
}

// libDirs are searched, in order, for a needed library (the amd64 Debian,
// Ubuntu, Fedora and Alpine layouts).
var libDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}

// BundleOf returns the bundle of the executable at exe: for a dynamically
// linked one, its interpreter and every shared library it needs
// (transitively), found where the system keeps them.
func BundleOf(exe string) (Bundle, error) {
	f, err := elf.Open(exe)
	if err != nil {
		return Bundle{}, fmt.Errorf("executable %s: not an ELF file: %w", exe, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 || f.Class != elf.ELFCLASS64 {
		return Bundle{}, fmt.Errorf("executable %s: built for %s, want linux/amd64 (kind nodes are amd64)", exe, f.Machine)
	}
	b := Bundle{Exe: exe}
	interp := f.Section(".interp")
	if interp == nil {
		return b, nil
	}
	raw, err := interp.Data()
	if err != nil {
		return Bundle{}, fmt.Errorf("executable %s: read interpreter: %w", exe, err)
	}
	b.Interpreter = strings.TrimRight(string(raw), "\x00")
	seen := map[string]bool{}
	add := func(path string) error {
		if seen[path] {
			return nil
		}
		seen[path] = true
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			return err
		}
		b.Libs = append(b.Libs, File{Src: real, Dest: path})
		return nil
	}
	if err := add(b.Interpreter); err != nil {
		return Bundle{}, fmt.Errorf("executable %s: interpreter %s: %w", exe, b.Interpreter, err)
	}
	queue, err := f.ImportedLibraries()
	if err != nil {
		return Bundle{}, fmt.Errorf("executable %s: needed libraries: %w", exe, err)
	}
	for len(queue) > 0 {
		lib := queue[0]
		queue = queue[1:]
		path, err := findLib(lib)
		if err != nil {
			return Bundle{}, fmt.Errorf("executable %s: %w", exe, err)
		}
		if seen[path] {
			continue
		}
		if err := add(path); err != nil {
			return Bundle{}, fmt.Errorf("executable %s: library %s: %w", exe, path, err)
		}
		more, err := neededOf(path)
		if err != nil {
			return Bundle{}, fmt.Errorf("executable %s: library %s: %w", exe, path, err)
		}
		queue = append(queue, more...)
	}
	return b, nil
}

func findLib(name string) (string, error) {
	if filepath.IsAbs(name) {
		return name, nil
	}
	for _, d := range libDirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("shared library %s not found in %s", name, strings.Join(libDirs, ", "))
}

func neededOf(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if errors.Is(err, elf.ErrNoSymbols) {
		return nil, nil
	}
	return libs, err
}

// Command returns argv that runs the bundle's executable under name (a role)
// where the bundle was copied into dir on a Linux host that may have other
// libraries of its own (a kind node): a dynamic executable runs through its
// copied interpreter with the copied libraries only.
func (b Bundle) Command(dir, name string, args ...string) []string {
	exe := filepath.Join(dir, name)
	if b.Static() {
		return append([]string{exe}, args...)
	}
	libDir := filepath.Join(dir, "lib")
	return append([]string{filepath.Join(libDir, filepath.Base(b.Interpreter)), "--library-path", libDir, exe}, args...)
}

var digests sync.Map // executable path -> hex sha256

// Digest is the hex SHA-256 of the executable (computed once per process
// and path): what names the images and agent folders built from it.
func (b Bundle) Digest() (string, error) {
	if d, ok := digests.Load(b.Exe); ok {
		return d.(string), nil
	}
	f, err := os.Open(b.Exe)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("digest %s: %w", b.Exe, err)
	}
	d := hex.EncodeToString(h.Sum(nil))
	digests.Store(b.Exe, d)
	return d, nil
}
