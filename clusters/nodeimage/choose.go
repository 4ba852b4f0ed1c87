package nodeimage

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"

	kinddefaults "sigs.k8s.io/kind/pkg/apis/config/defaults"
)

// KindDefault is the node image the kind library aftershock is built with
// creates clusters from (by digest).
const KindDefault = kinddefaults.Image

// DefaultPullAnswer is how long a pull may wait for the registry's first
// answer before it is given up (a registry that is unreachable fails at
// once; one that does not answer costs this much).
const DefaultPullAnswer = 20 * time.Second

// pullBound is the most a pull may take once the registry has answered.
const pullBound = 15 * time.Minute

// Choice is the node image a run creates its cluster from, and why.
type Choice struct {
	Image string // empty when a dry run found none present
	Why   string
}

// ChooseOptions configure Choose. The zero value looks for kind's default.
type ChooseOptions struct {
	Build Options // for an offline build, and the current offline tag
	// Default is the image to look for and then pull; default KindDefault.
	Default string
	// PullAnswer bounds the wait for the registry's first answer; default
	// DefaultPullAnswer.
	PullAnswer time.Duration
	// DryRun says what is present and what a run would do, and pulls or
	// builds nothing.
	DryRun bool
}

// Choose finds the node image fastest first: one already in the Docker
// engine (the offline build of this source tree, kind's default by digest
// or by its tag, or outside a source tree the newest offline build), else
// kind's default pulled by digest (given up when the registry does not
// answer within PullAnswer), else the offline build (compiled here; only
// from a source tree). Its progress goes to o.Build.Progress.
func Choose(ctx context.Context, o ChooseOptions) (Choice, error) {
	return dockerChooser(o).choose(ctx, o)
}

// chooser is Choose's steps, as functions a unit test can replace.
type chooser struct {
	current func() string // the offline tag of this source tree; "" outside one
	exists  func(ctx context.Context, ref string) bool
	newest  func(ctx context.Context) (string, error)
	pull    func(ctx context.Context, ref string, answer time.Duration, progress io.Writer) error
	build   func(ctx context.Context) (string, error)
}

func dockerChooser(o ChooseOptions) chooser {
	return chooser{
		current: func() string {
			if o.Build.SourceDir == "" {
				if _, err := FindSourceDir(); err != nil {
					return ""
				}
			}
			tag, err := Tag(o.Build)
			if err != nil {
				return ""
			}
			return tag
		},
		exists: Exists,
		newest: Newest,
		pull:   Pull,
		build:  func(ctx context.Context) (string, error) { return Ensure(ctx, o.Build) },
	}
}

func (c chooser) choose(ctx context.Context, o ChooseOptions) (Choice, error) {
	def := o.Default
	if def == "" {
		def = KindDefault
	}
	answer := o.PullAnswer
	if answer <= 0 {
		answer = DefaultPullAnswer
	}
	progress := o.Build.Progress
	if progress == nil {
		progress = io.Discard
	}
	current := c.current()
	if current != "" && c.exists(ctx, current) {
		return Choice{current, "the offline build of this source tree, present in Docker"}, nil
	}
	if c.exists(ctx, def) {
		return Choice{def, "kind's default node image, present in Docker"}, nil
	}
	if tag := withoutDigest(def); tag != def && c.exists(ctx, tag) {
		return Choice{tag, "kind's default node image by its tag, present in Docker; not the digest kind pins, so a local build or retag"}, nil
	}
	if current == "" {
		if img, err := c.newest(ctx); err == nil {
			return Choice{img, "the newest offline build in Docker; no aftershock source tree here to check it is current"}, nil
		}
	}
	if o.DryRun {
		then := "and builds offline if that fails"
		if current == "" {
			then = "and fails if that fails (no aftershock source tree here to build one)"
		}
		return Choice{Why: fmt.Sprintf("none present: a run pulls %s, %s", def, then)}, nil
	}
	fmt.Fprintf(progress, "node image: none present; pulling %s (given up if the registry has not answered in %s)\n", def, answer)
	perr := c.pull(ctx, def, answer, progress)
	if perr == nil {
		return Choice{def, "kind's default node image, pulled"}, nil
	}
	if ctx.Err() != nil {
		return Choice{}, ctx.Err()
	}
	if current == "" {
		return Choice{}, fmt.Errorf("no node image: %w; and no aftershock source tree here to build one offline (run `aftershock node-image` in a clone of the source, or pass --node-image)", perr)
	}
	fmt.Fprintf(progress, "node image: %v; building offline\n", perr)
	img, err := c.build(ctx)
	if err != nil {
		return Choice{}, fmt.Errorf("no node image: %v; offline build: %w", perr, err)
	}
	return Choice{img, fmt.Sprintf("the offline build (%v)", perr)}, nil
}

// withoutDigest drops a reference's @sha256:... part.
func withoutDigest(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i]
	}
	return ref
}

// Pull pulls ref with the Docker engine. It gives up when the registry has
// not answered within answer (docker pull prints its first line once the
// manifest is fetched), and after pullBound in all; a pull given up leaves
// nothing behind but the layers it completed.
func Pull(ctx context.Context, ref string, answer time.Duration, progress io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, pullBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", "pull", ref)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pull %s: %w", ref, err)
	}
	var once sync.Once
	answered := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			once.Do(func() { close(answered) })
			fmt.Fprintf(progress, "node image: %s\n", sc.Text())
		}
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case <-answered:
	case err := <-waited:
		return pullError(ref, err, stderr.String())
	case <-time.After(answer):
		cancel()
		<-waited
		return fmt.Errorf("pull %s: no answer from the registry in %s", ref, answer)
	}
	return pullError(ref, <-waited, stderr.String())
}

func pullError(ref string, err error, stderr string) error {
	if err == nil {
		return nil
	}
	msg := strings.TrimSpace(stderr)
	if msg == "" {
		msg = err.Error()
	}
	return fmt.Errorf("pull %s: %s", ref, msg)
}
