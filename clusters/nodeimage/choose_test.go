package nodeimage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeSteps is a chooser over a made-up Docker engine: present images, a
// pull that succeeds or fails, a build that records it ran.
type fakeSteps struct {
	current, newest string
	present         map[string]bool
	pullErr         error
	pulled, built   []string
}

func (f *fakeSteps) chooser() chooser {
	return chooser{
		current: func() string { return f.current },
		exists:  func(_ context.Context, ref string) bool { return f.present[ref] },
		newest: func(context.Context) (string, error) {
			if f.newest == "" {
				return "", errors.New("none")
			}
			return f.newest, nil
		},
		pull: func(_ context.Context, ref string, _ time.Duration, _ io.Writer) error {
			f.pulled = append(f.pulled, ref)
			return f.pullErr
		},
		build: func(context.Context) (string, error) {
			f.built = append(f.built, f.current)
			return f.current, nil
		},
	}
}

const testDefault = "kindest/node:v1.37.0@sha256:aaaa"

func TestChooseFastestFirst(t *testing.T) {
	offline := "aftershock/node:v1.37.2-0123456789ab"
	for _, tc := range []struct {
		name      string
		f         fakeSteps
		want, why string
		pulled    bool
		built     bool
	}{
		{name: "this tree's build present", f: fakeSteps{current: offline, present: map[string]bool{offline: true, testDefault: true}},
			want: offline, why: "offline build of this source tree"},
		{name: "kind's default present by digest", f: fakeSteps{current: offline, present: map[string]bool{testDefault: true}},
			want: testDefault, why: "kind's default node image, present"},
		{name: "kind's default present by tag only", f: fakeSteps{current: offline, present: map[string]bool{"kindest/node:v1.37.0": true}},
			want: "kindest/node:v1.37.0", why: "by its tag"},
		{name: "installed binary: the newest build", f: fakeSteps{newest: "aftershock/node:v1.37.2-old"},
			want: "aftershock/node:v1.37.2-old", why: "no aftershock source tree"},
		{name: "source tree with a stale build: pulled", f: fakeSteps{current: offline, newest: "aftershock/node:v1.37.2-old"},
			want: testDefault, why: "pulled", pulled: true},
		{name: "pull fails: built offline", f: fakeSteps{current: offline, pullErr: errors.New("pull x: no answer from the registry in 20s")},
			want: offline, why: "the offline build (pull x: no answer", pulled: true, built: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var progress bytes.Buffer
			c, err := tc.f.chooser().choose(context.Background(), ChooseOptions{Default: testDefault, Build: Options{Progress: &progress}})
			require.NoError(t, err)
			assert.Equal(t, tc.want, c.Image)
			assert.Contains(t, c.Why, tc.why)
			assert.Equal(t, tc.pulled, len(tc.f.pulled) > 0, "pulled: %v", tc.f.pulled)
			assert.Equal(t, tc.built, len(tc.f.built) > 0, "built")
			if tc.pulled {
				assert.Equal(t, []string{testDefault}, tc.f.pulled, "pulled by digest")
				assert.Contains(t, progress.String(), "pulling "+testDefault)
			}
		})
	}
}

func TestChooseSaysWhatItCannotDo(t *testing.T) {
	// an installed binary, nothing present, no registry: the error says how to get an image
	f := fakeSteps{pullErr: errors.New("pull kindest/node: no such host")}
	_, err := f.chooser().choose(context.Background(), ChooseOptions{Default: testDefault})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no such host")
	assert.Contains(t, err.Error(), "aftershock node-image")
	assert.Empty(t, f.built)

	// a dry run pulls and builds nothing, and says what a run would do
	f = fakeSteps{current: "aftershock/node:v1.37.2-0123456789ab"}
	c, err := f.chooser().choose(context.Background(), ChooseOptions{Default: testDefault, DryRun: true})
	require.NoError(t, err)
	assert.Empty(t, c.Image)
	assert.Equal(t, "none present: a run pulls "+testDefault+", and builds offline if that fails", c.Why)
	assert.Empty(t, f.pulled)
	assert.Empty(t, f.built)
}

func requireDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Docker; skipped under -short")
	}
	if err := exec.Command("docker", "version").Run(); err != nil {
		t.Fatalf("this test needs a Docker engine (run `sudo .ci/prepare`, or -short to skip): %v", err)
	}
}

// A registry that is not there fails the pull at once, one that never
// answers is given up after the answer bound; then the offline build is
// used (reused here, as it is present) and the choice says why.
func TestIntegrationPullGivesUpThenBuildsOffline(t *testing.T) {
	requireDocker(t)
	ctx := context.Background()

	// nothing listens on this port
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := l.Addr().String()
	require.NoError(t, l.Close())
	start := time.Now()
	err = Pull(ctx, closed+"/kindest/node:v0@sha256:"+strings.Repeat("0", 64), 5*time.Second, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connection refused")
	assert.Less(t, time.Since(start), 5*time.Second, "a refused pull fails at once")

	// this one accepts and never answers
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer hang.Close()
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	silent := hang.Addr().String() + "/kindest/node:v0@sha256:" + strings.Repeat("0", 64)
	start = time.Now()
	err = Pull(ctx, silent, 2*time.Second, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no answer from the registry in 2s")
	assert.Less(t, time.Since(start), 10*time.Second, "given up after the answer bound")

	// the real steps, with this tree's build hidden from the first look
	var progress bytes.Buffer
	o := ChooseOptions{Default: silent, PullAnswer: 2 * time.Second, Build: Options{Progress: &progress}}
	c := dockerChooser(o)
	current := c.current()
	require.NotEmpty(t, current)
	if !Exists(ctx, current) {
		t.Skipf("the offline node image %s is not built (make node-image); this test reuses it", current)
	}
	first := true
	c.exists = func(ctx context.Context, ref string) bool {
		if ref == current && first {
			first = false
			return false
		}
		return Exists(ctx, ref)
	}
	got, err := c.choose(ctx, o)
	require.NoError(t, err)
	assert.Equal(t, current, got.Image)
	assert.Contains(t, got.Why, "the offline build (pull "+silent+": no answer from the registry in 2s)")
	assert.Contains(t, progress.String(), "building offline")
	assert.Contains(t, progress.String(), "present, reused")
}
