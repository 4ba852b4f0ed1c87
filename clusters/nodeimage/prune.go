package nodeimage

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// pruneOlder removes what earlier builds left once tag is built: the other
// images of tag's repository (Repository) and the images archives of other tags in
// cacheDir. An image a container uses (a kept cluster's nodes, running or
// not) stays, and so does its archive.
// What it removed, it says on progress.
func pruneOlder(ctx context.Context, tag, cacheDir string, progress io.Writer) {
	repo, _, _ := strings.Cut(tag, ":")
	out, err := exec.CommandContext(ctx, "docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", repo).Output()
	if err != nil {
		return
	}
	kept := map[string]bool{imagesArchive(cacheDir, tag): true}
	for _, img := range strings.Fields(string(out)) {
		if img == tag || !strings.HasPrefix(img, repo+":") {
			continue
		}
		users, err := exec.CommandContext(ctx, "docker", "ps", "-aq", "--filter", "ancestor="+img).Output()
		if err != nil || len(strings.TrimSpace(string(users))) > 0 {
			kept[imagesArchive(cacheDir, img)] = true // in use: its archive stays too
			continue
		}
		if err := exec.CommandContext(ctx, "docker", "rmi", img).Run(); err != nil {
			kept[imagesArchive(cacheDir, img)] = true
			continue
		}
		fmt.Fprintf(progress, "removed the older node image %s (no container uses it)\n", img)
	}
	archives, _ := filepath.Glob(filepath.Join(cacheDir, "images-*.tar"))
	for _, a := range archives {
		if !kept[a] {
			_ = os.Remove(a)
		}
	}
}

// suffix is a node image tag's part after the colon (VERSION-DIGEST):
// the tag of the images built with it, and the name of its archive.
func suffix(tag string) string {
	_, s, _ := strings.Cut(tag, ":")
	return s
}
