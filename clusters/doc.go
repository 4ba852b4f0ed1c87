// Package clusters owns the clusters scenarios run on: kind clusters created
// and deleted through the kind Go library (no kind binary), existing clusters
// reached through a kubeconfig when explicitly allowed, the client-go
// clientset, the sample app's image (built without Docker) and its
// deployment (Deployment, NodePort Service, PodDisruptionBudget), and waiting
// until traffic through the Service reaches every ready pod.
//
// Load enters through a NodePort published on 127.0.0.1 only (kind
// extraPortMappings with listenAddress 127.0.0.1, host port chosen free).
//
// It does not inject faults (package faults) or measure (packages loadgen,
// report).
package clusters
