package appsource

import (
	"fmt"
	"io"
	"os"
)

// MaxFileBytes bounds a manifest or values file (a scenario is bounded
// tighter by its parser).
const MaxFileBytes = 16 << 20

// ReadFileLimited reads path when it holds at most max bytes; a larger file
// is refused by its size, without reading it all (also one that is not a
// regular file and never ends, like /dev/zero).
func ReadFileLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > max {
		return nil, fmt.Errorf("%s: %d bytes; at most %d are read", path, fi.Size(), max)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: more than %d bytes; at most %d are read", path, max, max)
	}
	return b, nil
}
