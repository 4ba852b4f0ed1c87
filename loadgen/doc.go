// Package loadgen drives HTTP load with the vegeta library and streams what
// each request saw as report.Sample values: start, latency, status, transport
// error, the pod and node that served it (response headers set by the sample
// app) and whether the connection was reused.
//
// It is the only importer of vegeta. Every attack is bounded in time and in
// request count, stops when its context is cancelled, and only targets
// loopback addresses (ports published on 127.0.0.1) from the host, or a
// Service's in-cluster name (NAME.NAMESPACE.svc) from a load pod. Samples are
// handed to a sink as they arrive; nothing is retained, so memory does not
// grow with the length of a run. It does not compute verdicts (package
// report).
//
// In-cluster load (PodLoad): load pods run PodMain (the multi-call role
// "aftershock-load"), start at one instant given through the API server's
// pod proxy, and stream each sample as a line on stdout; the harness follows
// the pod logs into the same sink and counts what each pod sent against
// what arrived.
package loadgen
