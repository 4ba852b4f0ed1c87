// Package nodeimage builds a kind-compatible node image on a machine that can
// reach no container registry.
//
// kind's own node-image builder pulls images, so it cannot run offline. This
// package follows kind's recipe (images/base in the kind module) but takes
// every input from places that are reachable here: Kubernetes and the other
// components are compiled from the Go module proxy, the root file system comes
// from Debian (debootstrap), kind's base files come from the kind module in the
// module cache, the control-plane images are assembled from the compiled
// binaries with go-containerregistry and imported into the node's containerd,
// and the pod network is aftershock's own small DaemonSet (cmd/nodenet)
// instead of kindnetd.
//
// The image tag is derived from every input (versions, recipe, embedded files,
// nodenet source), so an existing image is reused at once and a changed recipe
// builds a new one. It owns building the image; it does not create clusters.
package nodeimage
