package nodeimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aftershock-dev/aftershock/clusters/internal/ociutil"
)

//go:embed files
var files embed.FS

// recipeSource is this file: a change to the build steps changes the tag.
//
//go:embed nodeimage.go
var recipeSource []byte

// Versions are the component versions baked into the image. The zero value is
// not useful; start from DefaultVersions.
type Versions struct {
	Kubernetes string // k8s.io/kubernetes; staging modules pinned to the matching v0.x
	Etcd       string // go.etcd.io/etcd/server/v3
	EtcdTag    string // image tag kubeadm expects for etcd
	CoreDNS    string // github.com/coredns/coredns (also the image tag)
	Containerd string // github.com/containerd/containerd/v2
	Runc       string // github.com/opencontainers/runc
	CRITools   string // sigs.k8s.io/cri-tools
	CNIPlugins string // github.com/containernetworking/plugins
	Kind       string // sigs.k8s.io/kind, source of the base files
	Debian     string // suite for debootstrap
	PauseTags  []string
}

// DefaultVersions is what `kubeadm config images list --kubernetes-version
// v1.37.2` asks for, plus the node components known to work with it.
var DefaultVersions = Versions{
	Kubernetes: "v1.37.2",
	Etcd:       "v3.7.0",
	EtcdTag:    "3.7.0-0",
	CoreDNS:    "v1.14.6",
	Containerd: "v2.4.2",
	Runc:       "v1.5.3",
	CRITools:   "v1.37.0",
	CNIPlugins: "v1.10.0",
	Kind:       "v0.33.0",
	Debian:     "bookworm",
	PauseTags:  []string{"3.10", "3.10.2"},
}

// recipeRevision changes whenever the build steps change in a way the other
// inputs do not capture.
const recipeRevision = "3"

// Repository is where built node images are tagged.
const Repository = "aftershock/node"

// Options configure Build. The zero value builds DefaultVersions.
type Options struct {
	Versions Versions
	// CacheDir keeps binaries and the root file system between builds.
	// Default: $XDG_CACHE_HOME/aftershock/nodeimage (~/.cache/...).
	CacheDir string
	// SourceDir is the aftershock module root, for cmd/nodenet. Default: the
	// nearest go.mod above the working directory that declares the module.
	SourceDir string
	// Progress receives one line per step; nil discards.
	Progress io.Writer
	// DebianMirror for debootstrap; default http://deb.debian.org/debian.
	DebianMirror string
}

const modulePath = "github.com/aftershock-dev/aftershock"

func (o *Options) defaults() error {
	if o.Versions.Kubernetes == "" {
		o.Versions = DefaultVersions
	}
	if o.CacheDir == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return fmt.Errorf("cache dir: %w", err)
		}
		o.CacheDir = filepath.Join(d, "aftershock", "nodeimage")
	}
	if o.SourceDir == "" {
		d, err := FindSourceDir()
		if err != nil {
			return err
		}
		o.SourceDir = d
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.DebianMirror == "" {
		o.DebianMirror = "http://deb.debian.org/debian"
	}
	return nil
}

// Tag returns the image reference Build produces for opts: Repository, the
// Kubernetes version and a digest of every input.
func Tag(opts Options) (string, error) {
	if err := opts.defaults(); err != nil {
		return "", err
	}
	h, err := inputsDigest(opts)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s:%s-%s", Repository, opts.Versions.Kubernetes, h[:12]), nil
}

func inputsDigest(opts Options) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "recipe %s %x\n%+v\n", recipeRevision, sha256.Sum256(recipeSource), opts.Versions)
	err := fs.WalkDir(files, "files", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		fmt.Fprintf(h, "%s %x\n", p, sha256.Sum256(b))
		return err
	})
	if err != nil {
		return "", err
	}
	for _, p := range []string{"go.sum", "cmd/nodenet/main.go"} {
		b, err := os.ReadFile(filepath.Join(opts.SourceDir, p))
		if err != nil {
			return "", fmt.Errorf("node image inputs: %w", err)
		}
		fmt.Fprintf(h, "%s %x\n", p, sha256.Sum256(b))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Exists reports whether the Docker engine has image.
func Exists(ctx context.Context, image string) bool {
	return exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", image).Run() == nil
}

// Ensure returns the node image for opts, building it only when missing.
func Ensure(ctx context.Context, opts Options) (string, error) {
	if err := opts.defaults(); err != nil {
		return "", err
	}
	tag, err := Tag(opts)
	if err != nil {
		return "", err
	}
	if Exists(ctx, tag) {
		fmt.Fprintf(opts.Progress, "node image %s: present, reused\n", tag)
		return tag, nil
	}
	return tag, Build(ctx, opts)
}

// Build builds the node image for opts (see Tag), reusing the cached
// binaries and root file system from earlier builds.
func Build(ctx context.Context, opts Options) error {
	if err := opts.defaults(); err != nil {
		return err
	}
	tag, err := Tag(opts)
	if err != nil {
		return err
	}
	b := &builder{opts: opts, v: opts.Versions, tag: tag, bin: filepath.Join(opts.CacheDir, "bin")}
	start := time.Now()
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"compile Kubernetes " + b.v.Kubernetes, b.kubernetes},
		{"compile etcd, coredns, containerd, runc, crictl, CNI plugins, pause, nodenet", b.components},
		{"Debian " + b.v.Debian + " root file system (debootstrap, started in parallel with step 1)", b.waitRootfs},
		{"control-plane images (go-containerregistry)", b.images},
		{"assemble node image " + tag, b.assemble},
	}
	// debootstrap is network- and disk-bound: overlap it with the compiles.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b.rootfsDone = make(chan error, 1)
	go func() { b.rootfsDone <- b.rootfs(rctx) }()
	timings := loadTimings(opts.CacheDir)
	for i, s := range steps {
		t := time.Now()
		est := ""
		key := fmt.Sprintf("step%d", i+1) // names carry versions and tags
		if d, ok := timings[key]; ok {
			est = fmt.Sprintf(", about %s the last time it ran", d.Round(time.Second))
		}
		fmt.Fprintf(opts.Progress, "[%d/%d] %s ...%s\n", i+1, len(steps), s.name, strings.TrimPrefix(est, ","))
		stop := heartbeat(opts.Progress, fmt.Sprintf("[%d/%d] %s", i+1, len(steps), s.name), t, est)
		err := s.run(ctx)
		stop()
		if err != nil {
			if i < 2 {
				cancel()
				<-b.rootfsDone
			}
			return fmt.Errorf("node image step %d/%d (%s): %w", i+1, len(steps), s.name, err)
		}
		took := time.Since(t)
		fmt.Fprintf(opts.Progress, "[%d/%d] %s: done in %s\n", i+1, len(steps), s.name, took.Round(100*time.Millisecond))
		if took > 10*time.Second { // a step that did work, not a cache hit
			timings[key] = took
			saveTimings(opts.CacheDir, timings)
		}
	}
	fmt.Fprintf(opts.Progress, "node image %s built in %s\n", tag, time.Since(start).Round(time.Second))
	pruneOlder(ctx, tag, opts.CacheDir, opts.Progress)
	return nil
}

// HeartbeatEvery is how often a long build step says it is still running.
var HeartbeatEvery = 30 * time.Second

// heartbeat prints "NAME: still running, 1m30s elapsed (EST)" every
// HeartbeatEvery until stop is called: a cold build step can take minutes.
func heartbeat(w io.Writer, name string, start time.Time, est string) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	var once sync.Once
	go func() {
		defer close(finished)
		t := time.NewTicker(HeartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(w, "%s: still running, %s elapsed%s\n", name, time.Since(start).Round(time.Second), est)
			}
		}
	}()
	// stop returns once the heartbeat has stopped writing (a tick in
	// flight would otherwise print after it)
	return func() { once.Do(func() { close(done); <-finished }) }
}

// timingsFile keeps how long each build step took the last time it did
// work, for the estimates of the next build.
const timingsFile = "timings.json"

func loadTimings(dir string) map[string]time.Duration {
	m := map[string]time.Duration{}
	if b, err := os.ReadFile(filepath.Join(dir, timingsFile)); err == nil {
		_ = json.Unmarshal(b, &m)
	}
	return m
}

func saveTimings(dir string, m map[string]time.Duration) {
	if b, err := json.Marshal(m); err == nil {
		_ = os.WriteFile(filepath.Join(dir, timingsFile), b, 0o644)
	}
}

type builder struct {
	opts Options
	v    Versions
	tag  string
	bin  string // cached binaries, one folder per component@version

	rootfsDone chan error
}

func (b *builder) waitRootfs(ctx context.Context) error {
	select {
	case err := <-b.rootfsDone:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run runs a command, returning an error that carries its output tail.
func run(ctx context.Context, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tail(out.String(), 3000))
	}
	return nil
}

func output(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, tail(stderr.String(), 2000))
	}
	return strings.TrimSpace(string(out)), nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// haveAll reports whether every named binary is in dir.
func haveAll(dir string, names ...string) bool {
	for _, n := range names {
		if fi, err := os.Stat(filepath.Join(dir, n)); err != nil || fi.Size() == 0 {
			return false
		}
	}
	return true
}

var kubeBinaries = []string{"kubelet", "kubeadm", "kubectl", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"}

// kubernetes compiles the Kubernetes binaries from a throwaway module that
// requires k8s.io/kubernetes and pins every staging module to its v0.x.
func (b *builder) kubernetes(ctx context.Context) error {
	k := b.v.Kubernetes
	out := filepath.Join(b.bin, "kubernetes@"+k)
	if haveAll(out, kubeBinaries...) {
		return nil
	}
	mod := filepath.Join(b.opts.CacheDir, "mod", "kubernetes@"+k)
	if err := os.MkdirAll(mod, 0o755); err != nil {
		return err
	}
	// the staging modules to pin come from k8s.io/kubernetes's own go.mod
	modDir, err := output(ctx, "go", "mod", "download", "-json", "k8s.io/kubernetes@"+k)
	if err != nil {
		return err
	}
	dir := jsonField(modDir, "Dir")
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return fmt.Errorf("read k8s.io/kubernetes go.mod: %w", err)
	}
	staging := "v0" + strings.TrimPrefix(k, "v1")
	var m strings.Builder
	fmt.Fprintf(&m, "module aftershock.local/kubernetes\n\ngo 1.26\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n", k)
	for _, line := range strings.Split(string(gomod), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[1] == "=>" && strings.HasPrefix(f[2], "./staging/") {
			fmt.Fprintf(&m, "\t%s => %s %s\n", f[0], f[0], staging)
		}
	}
	m.WriteString(")\n")
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte(m.String()), 0o644); err != nil {
		return err
	}
	minor := strings.Split(strings.TrimPrefix(k, "v"), ".")
	ld := fmt.Sprintf("-s -w -X k8s.io/component-base/version.gitVersion=%[1]s -X k8s.io/component-base/version.gitMajor=%[2]s -X k8s.io/component-base/version.gitMinor=%[3]s -X k8s.io/client-go/pkg/version.gitVersion=%[1]s -X k8s.io/component-base/version.gitTreeState=clean", k, minor[0], minor[1])
	args := []string{"build", "-trimpath", "-ldflags", ld, "-o", out + "/"}
	for _, n := range kubeBinaries {
		args = append(args, "k8s.io/kubernetes/cmd/"+n)
	}
	return run(ctx, mod, []string{"CGO_ENABLED=0", "GOFLAGS=-mod=mod"}, "go", args...)
}

func jsonField(js, key string) string {
	i := strings.Index(js, `"`+key+`": "`)
	if i < 0 {
		return ""
	}
	s := js[i+len(key)+5:]
	return s[:strings.Index(s, `"`)]
}

// goInstall installs pkgs at version into dir (a module without replace
// directives can be installed directly from the proxy).
func goInstall(ctx context.Context, dir string, env []string, tags string, pkgs ...string) error {
	args := []string{"install", "-trimpath", "-ldflags", "-s -w"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	args = append(args, pkgs...)
	return run(ctx, "", append([]string{"GOBIN=" + dir, "GOFLAGS=-mod=mod"}, env...), "go", args...)
}

func (b *builder) components(ctx context.Context) error {
	v := b.v
	cgo0 := []string{"CGO_ENABLED=0"}
	type comp struct {
		dir   string
		names []string
		build func(dir string) error
	}
	comps := []comp{
		{"etcd@" + v.Etcd, []string{"etcd"}, func(dir string) error {
			// etcd's server module has replace directives: build it from a throwaway module.
			mod := filepath.Join(b.opts.CacheDir, "mod", "etcd@"+v.Etcd)
			if err := os.MkdirAll(mod, 0o755); err != nil {
				return err
			}
			gm := fmt.Sprintf("module aftershock.local/etcd\n\ngo 1.26\n\nrequire (\n\tgo.etcd.io/etcd/server/v3 %[1]s\n\tgo.etcd.io/etcd/api/v3 %[1]s\n\tgo.etcd.io/etcd/client/pkg/v3 %[1]s\n\tgo.etcd.io/etcd/client/v3 %[1]s\n\tgo.etcd.io/etcd/pkg/v3 %[1]s\n)\n", v.Etcd)
			if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte(gm), 0o644); err != nil {
				return err
			}
			return run(ctx, mod, append([]string{"GOFLAGS=-mod=mod"}, cgo0...), "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(dir, "etcd"), "go.etcd.io/etcd/server/v3")
		}},
		{"coredns@" + v.CoreDNS, []string{"coredns"}, func(dir string) error {
			return goInstall(ctx, dir, cgo0, "", "github.com/coredns/coredns@"+v.CoreDNS)
		}},
		{"crictl@" + v.CRITools, []string{"crictl"}, func(dir string) error {
			return goInstall(ctx, dir, cgo0, "", "sigs.k8s.io/cri-tools/cmd/crictl@"+v.CRITools)
		}},
		{"cni-plugins@" + v.CNIPlugins, []string{"ptp", "host-local", "loopback", "portmap", "bridge"}, func(dir string) error {
			p := "github.com/containernetworking/plugins/plugins/"
			return goInstall(ctx, dir, cgo0, "", p+"main/ptp@"+v.CNIPlugins, p+"ipam/host-local@"+v.CNIPlugins,
				p+"main/loopback@"+v.CNIPlugins, p+"meta/portmap@"+v.CNIPlugins, p+"main/bridge@"+v.CNIPlugins)
		}},
		{"containerd@" + v.Containerd, []string{"containerd", "containerd-shim-runc-v2", "ctr"}, func(dir string) error {
			p := "github.com/containerd/containerd/v2/cmd/"
			return goInstall(ctx, dir, []string{"CGO_ENABLED=1"}, "no_btrfs no_devmapper no_zfs no_aufs",
				p+"containerd@"+v.Containerd, p+"containerd-shim-runc-v2@"+v.Containerd, p+"ctr@"+v.Containerd)
		}},
		{"runc@" + v.Runc, []string{"runc"}, func(dir string) error {
			return goInstall(ctx, dir, []string{"CGO_ENABLED=1"}, "seccomp", "github.com/opencontainers/runc@"+v.Runc)
		}},
		{"pause@" + recipeRevision, []string{"pause"}, func(dir string) error {
			mod := filepath.Join(b.opts.CacheDir, "mod", "pause")
			src, err := files.ReadFile("files/pause.go.txt")
			if err != nil {
				return err
			}
			if err := os.MkdirAll(mod, 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module aftershock.local/pause\n\ngo 1.26\n"), 0o644); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(mod, "main.go"), src, 0o644); err != nil {
				return err
			}
			return run(ctx, mod, cgo0, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(dir, "pause"), ".")
		}},
	}
	for _, c := range comps {
		dir := filepath.Join(b.bin, c.dir)
		if haveAll(dir, c.names...) {
			continue
		}
		fmt.Fprintf(b.opts.Progress, "      compile %s\n", c.dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := c.build(dir); err != nil {
			return fmt.Errorf("compile %s: %w", c.dir, err)
		}
	}
	// nodenet always comes from this source tree (its digest is in the tag)
	return run(ctx, b.opts.SourceDir, cgo0, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(b.bin, "nodenet", "nodenet"), "./cmd/nodenet")
}

// rootfs makes the Debian root file system tarball with debootstrap.
func (b *builder) rootfs(ctx context.Context) error {
	tarPath := b.rootfsTar()
	if fi, err := os.Stat(tarPath); err == nil && fi.Size() > 0 {
		return nil
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		return errors.New("debootstrap not found (apt-get install debootstrap)")
	}
	dir := filepath.Join(b.opts.CacheDir, "rootfs-"+b.v.Debian)
	_ = os.RemoveAll(dir)
	pkgs := "systemd,systemd-sysv,dbus,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,ca-certificates,procps,bash,socat,curl,jq,e2fsprogs,libbpf1"
	if err := run(ctx, "", nil, "debootstrap", "--variant=minbase", "--include="+pkgs, b.v.Debian, dir, b.opts.DebianMirror); err != nil {
		return err
	}
	// trim what a node never needs
	for _, p := range []string{"usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/cache/apt/archives", "var/lib/apt/lists"} {
		_ = os.RemoveAll(filepath.Join(dir, p))
	}
	tmp := tarPath + ".tmp"
	if err := run(ctx, "", nil, "tar", "--numeric-owner", "-C", dir, "-cf", tmp, "."); err != nil {
		return err
	}
	if err := os.Rename(tmp, tarPath); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

func (b *builder) rootfsTar() string {
	return filepath.Join(b.opts.CacheDir, "rootfs-"+b.v.Debian+".tar")
}

func (b *builder) imagesTar() string {
	return imagesArchive(b.opts.CacheDir, b.tag)
}

// imagesArchive is where the images of node image tag are kept in cacheDir
// (kind's images.tar of the build); pruneOlder keeps the archives it names.
func imagesArchive(cacheDir, tag string) string {
	return filepath.Join(cacheDir, "images-"+suffix(tag)+".tar")
}

// NodenetImage is the pod network DaemonSet's image for tag (a node image tag).
func nodenetImage(tag string) string {
	return "docker.io/aftershock/nodenet:" + suffix(tag)
}

func (b *builder) images(ctx context.Context) error {
	v, k := b.v, b.v.Kubernetes
	kb := filepath.Join(b.bin, "kubernetes@"+k)
	bin := func(dir, name string) string { return filepath.Join(b.bin, dir, name) }
	one := func(ref, src, dest string, entry ...string) ociutil.Spec {
		return ociutil.Spec{Ref: ref, Files: []ociutil.File{{Src: src, Dest: dest}}, Entrypoint: entry}
	}
	specs := []ociutil.Spec{
		one("registry.k8s.io/kube-apiserver:"+k, filepath.Join(kb, "kube-apiserver"), "/usr/local/bin/kube-apiserver", "/usr/local/bin/kube-apiserver"),
		one("registry.k8s.io/kube-controller-manager:"+k, filepath.Join(kb, "kube-controller-manager"), "/usr/local/bin/kube-controller-manager", "/usr/local/bin/kube-controller-manager"),
		one("registry.k8s.io/kube-scheduler:"+k, filepath.Join(kb, "kube-scheduler"), "/usr/local/bin/kube-scheduler", "/usr/local/bin/kube-scheduler"),
		// kube-proxy programs iptables: it needs the Debian userland under it
		{Ref: "registry.k8s.io/kube-proxy:" + k, Base: b.rootfsTar(), Files: []ociutil.File{{Src: filepath.Join(kb, "kube-proxy"), Dest: "/usr/local/bin/kube-proxy"}}, Entrypoint: []string{"/usr/local/bin/kube-proxy"}},
		one("registry.k8s.io/etcd:"+v.EtcdTag, bin("etcd@"+v.Etcd, "etcd"), "/usr/local/bin/etcd", "/usr/local/bin/etcd"),
		one("registry.k8s.io/coredns/coredns:"+v.CoreDNS, bin("coredns@"+v.CoreDNS, "coredns"), "/coredns", "/coredns"),
		one(nodenetImage(b.tag), bin("nodenet", "nodenet"), "/nodenet", "/nodenet"),
	}
	for _, t := range v.PauseTags {
		specs = append(specs, one("registry.k8s.io/pause:"+t, bin("pause@"+recipeRevision, "pause"), "/pause", "/pause"))
	}
	return ociutil.WriteArchive(b.imagesTar(), specs...)
}

// assemble follows kind's base Dockerfile with docker run + cp + exec +
// commit (as kind's own node-image builder does), so it needs no BuildKit.
func (b *builder) assemble(ctx context.Context) error {
	ctxDir, err := os.MkdirTemp(b.opts.CacheDir, "assemble-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(ctxDir)
	if err := b.buildContext(ctx, ctxDir); err != nil {
		return err
	}

	rootfsImage := "aftershock/node-rootfs:" + suffix(b.tag)
	if !Exists(ctx, rootfsImage) {
		if err := run(ctx, "", nil, "docker", "import", b.rootfsTar(), rootfsImage); err != nil {
			return err
		}
	}
	defer func() { _ = exec.Command("docker", "rmi", rootfsImage).Run() }()
	name := "aftershock-nodeimage-build-" + fmt.Sprint(time.Now().UnixNano())
	if err := run(ctx, "", nil, "docker", "run", "-d", "--name", name, "--network", "none",
		// commit keeps the container's config: docker 20.10 cannot --change STOPSIGNAL
		"--stop-signal", "SIGRTMIN+3", "--entrypoint", "sleep", rootfsImage, "infinity"); err != nil {
		return err
	}
	// always remove the build container, also when ctx is cancelled
	defer func() { _ = exec.Command("docker", "rm", "-f", "-v", name).Run() }()
	if err := run(ctx, "", nil, "docker", "cp", ctxDir+"/.", name+":/"); err != nil {
		return err
	}
	if err := run(ctx, "", nil, "docker", "exec", name, "/bin/bash", "/kind/node-setup.sh"); err != nil {
		return err
	}
	return run(ctx, "", nil, "docker", "commit",
		"--change", `ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]`,
		"--change", `CMD []`,
		"--change", `ENV container=docker`,
		"--change", `LABEL io.aftershock.node-image.inputs=`+suffix(b.tag),
		name, b.tag)
}

// buildContext fills ctxDir with what kind's base Dockerfile copies in:
// kind's base files, the binaries where kind's images put them, the CNI
// manifest, the node setup script and the images archive.
func (b *builder) buildContext(ctx context.Context, ctxDir string) error {
	v := b.v

	// kind's base files
	kindDir, err := output(ctx, "go", "mod", "download", "-json", "sigs.k8s.io/kind@"+v.Kind)
	if err != nil {
		return err
	}
	baseFiles := filepath.Join(jsonField(kindDir, "Dir"), "images", "base", "files")
	if err := copyTree(baseFiles, ctxDir); err != nil {
		return fmt.Errorf("kind base files: %w", err)
	}
	// binaries where kind's images put them
	kb := filepath.Join(b.bin, "kubernetes@"+v.Kubernetes)
	place := map[string][]string{
		"usr/bin":        {filepath.Join(kb, "kubelet"), filepath.Join(kb, "kubeadm"), filepath.Join(kb, "kubectl")},
		"usr/local/bin":  {filepath.Join(b.bin, "containerd@"+v.Containerd, "containerd"), filepath.Join(b.bin, "containerd@"+v.Containerd, "containerd-shim-runc-v2"), filepath.Join(b.bin, "containerd@"+v.Containerd, "ctr"), filepath.Join(b.bin, "crictl@"+v.CRITools, "crictl")},
		"usr/local/sbin": {filepath.Join(b.bin, "runc@"+v.Runc, "runc")},
	}
	for _, p := range []string{"ptp", "host-local", "loopback", "portmap", "bridge"} {
		place["opt/cni/bin"] = append(place["opt/cni/bin"], filepath.Join(b.bin, "cni-plugins@"+v.CNIPlugins, p))
	}
	for dst, srcs := range place {
		for _, s := range srcs {
			if err := copyFile(s, filepath.Join(ctxDir, dst, filepath.Base(s)), 0o755); err != nil {
				return err
			}
		}
	}
	cni, err := files.ReadFile("files/default-cni.yaml")
	if err != nil {
		return err
	}
	cni = bytes.ReplaceAll(cni, []byte("docker.io/aftershock/nodenet:NODENET_TAG"), []byte(nodenetImage(b.tag)))
	setup, _ := files.ReadFile("files/node-setup.sh")
	write := map[string][]byte{
		"kind/version":                    []byte(v.Kubernetes),
		"kind/manifests/default-cni.yaml": cni,
		"kind/node-setup.sh":              setup,
	}
	for p, data := range write {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(ctxDir, p)), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(ctxDir, p), data, 0o755); err != nil {
			return err
		}
	}
	if err := os.Link(b.imagesTar(), filepath.Join(ctxDir, "kind", "images.tar")); err != nil {
		if err := copyFile(b.imagesTar(), filepath.Join(ctxDir, "kind", "images.tar"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		mode := os.FileMode(0o644)
		// kind's Dockerfile: usr/local/bin and kind/bin are executable
		if strings.HasPrefix(rel, "usr/local/bin/") || strings.HasPrefix(rel, "kind/bin/") {
			mode = 0o755
		}
		return copyFile(p, target, mode)
	})
}

func copyFile(src, dst string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}
