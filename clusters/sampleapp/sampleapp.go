// Package sampleapp is the built-in sample app's identity, in one place: the
// name of its Deployment and Service, its pod selector, its ports and the
// response headers that name the pod and node that served a request. The
// program itself is clusters/multicall/internal/server; clusters deploys
// it, faults observes and hits it, loadgen reads its headers.
package sampleapp

const (
	// Name of the Deployment, the Service and the pods' app label.
	Name = "sampleapp"
	// Selector is the label selector of its pods.
	Selector = "app=" + Name
	// Workload is its workload as "Kind/name".
	Workload = "Deployment/" + Name
	// Port is the container port it serves on; PortName names it.
	Port     = 8080
	PortName = "http"
	// ServicePort is its Service's port (in-cluster clients use it; the
	// host uses the NodePort).
	ServicePort = 80
	// HeaderPod and HeaderNode name the pod and node that served a
	// response (from the downward API).
	HeaderPod  = "X-Aftershock-Pod"
	HeaderNode = "X-Aftershock-Node"
	// GRPCHeaderPod and GRPCHeaderNode are the same names as gRPC header
	// metadata (lower case, as HTTP/2 sends them) on every gRPC response.
	GRPCHeaderPod  = "x-aftershock-pod"
	GRPCHeaderNode = "x-aftershock-node"
	// GRPCInfoService's one method, GRPCInfoMethod, answers which pod and
	// node served it (request google.protobuf.Empty, response
	// google.protobuf.StringValue), on Port beside HTTP.
	GRPCInfoService = "aftershock.sampleapp.v1.Info"
	GRPCInfoMethod  = "/" + GRPCInfoService + "/Get"
	// WSPath is its WebSocket echo: each message comes back prefixed by
	// "pod=POD node=NODE "; a graceful shutdown closes with 1001.
	WSPath = "/ws"
)
