package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Files written by WriteDir.
const (
	FileJSON     = "result.json"
	FileJUnit    = "junit.xml"
	FileMarkdown = "report.md"
	FileHTML     = "report.html"
)

// WriteJSON writes r as indented JSON (result.json).
func WriteJSON(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadJSON reads a result.json, checking its schema version.
func ReadJSON(rd io.Reader) (*Result, error) {
	var r Result
	dec := json.NewDecoder(rd)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("result.json: %w", err)
	}
	if r.Schema != SchemaVersion && r.Schema != schemaV1 {
		return nil, fmt.Errorf("result.json: schema %q, this aftershock reads %q", r.Schema, SchemaVersion)
	}
	return &r, nil
}

// ReadFile reads a result.json file (or the one inside a report folder).
func ReadFile(path string) (*Result, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, FileJSON)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := ReadJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// FileMode is the mode of every file aftershock writes: readable by all,
// writable by its owner only.
const FileMode = 0o644

// WriteFile writes path atomically: fn writes into a temporary file in the
// same folder, which is synced and renamed over path only when all went
// well. A reader never sees half a file, and a failed write leaves the
// previous file in place.
func WriteFile(path string, fn func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	err = fn(f)
	if err == nil {
		err = f.Chmod(FileMode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Errored is a scenario that could not run to a verdict.
type Errored struct {
	Scenario string
	Err      error
}
