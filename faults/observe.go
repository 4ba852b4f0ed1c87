package faults

import (
	"context"
	"fmt"
	"github.com/aftershock-dev/aftershock/clusters/sampleapp"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/aftershock-dev/aftershock/clusters"
	"github.com/aftershock-dev/aftershock/report"
)

// Observer watches the app's workloads (Deployments, StatefulSets), pods and
// its Service's EndpointSlices, and the nodes, and writes what changes to a Timeline. It also keeps a series of
// (ready replicas, ready endpoints) to compute cluster-seen recovery.
type Observer struct {
	tl        *Timeline
	app       App
	sel       labels.Selector
	mu        sync.Mutex
	series    []readiness
	desired   int32
	ready     int32
	workloads map[string][2]int32 // "Kind/name" -> desired, ready
	eps       map[string]int      // EndpointSlice name -> ready endpoints
	podRdy    map[string]bool
	stopping  map[string]bool // pods seen with a deletion timestamp
	nodeRdy   map[string]bool
	stop      context.CancelFunc
	done      chan struct{}
}

type readiness struct {
	at               time.Time
	ready, endpoints int
	desired          int
}

// App names what an Observer watches: the Service load goes through, the
// selector of its pods and the workloads ("Deployment/web",
// "StatefulSet/db") that run them.
type App struct {
	Service   string
	Selector  string
	Workloads []string
}

// SampleApp is the built-in sample app as an Observer sees it.
func SampleApp() App {
	return App{Service: sampleapp.Name, Selector: sampleapp.Selector, Workloads: []string{sampleapp.Workload}}
}

// Observe starts watching app in ns. Stop it with Stop.
func Observe(ctx context.Context, c *clusters.Cluster, ns string, app App, tl *Timeline) (*Observer, error) {
	sel, err := labels.Parse(app.Selector)
	if err != nil {
		return nil, fmt.Errorf("observe %s: selector %q: %w", ns, app.Selector, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	o := &Observer{tl: tl, app: app, sel: sel, workloads: map[string][2]int32{}, eps: map[string]int{}, podRdy: map[string]bool{}, stopping: map[string]bool{}, nodeRdy: map[string]bool{}, stop: cancel, done: make(chan struct{})}
	nsf := informers.NewSharedInformerFactoryWithOptions(c.Clientset, 0, informers.WithNamespace(ns))
	all := informers.NewSharedInformerFactory(c.Clientset, 0)
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{nsf.Apps().V1().Deployments().Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { o.deployment(obj.(*appsv1.Deployment)) },
			UpdateFunc: func(_, obj any) { o.deployment(obj.(*appsv1.Deployment)) },
		}},
		{nsf.Apps().V1().StatefulSets().Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { o.statefulSet(obj.(*appsv1.StatefulSet)) },
			UpdateFunc: func(_, obj any) { o.statefulSet(obj.(*appsv1.StatefulSet)) },
		}},
		{nsf.Core().V1().Pods().Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { o.pod(obj.(*corev1.Pod), false) },
			UpdateFunc: func(_, obj any) { o.pod(obj.(*corev1.Pod), false) },
			DeleteFunc: func(obj any) {
				if p, ok := obj.(*corev1.Pod); ok {
					o.pod(p, true)
				}
			},
		}},
		{nsf.Discovery().V1().EndpointSlices().Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { o.slice(obj.(*discoveryv1.EndpointSlice), false) },
			UpdateFunc: func(_, obj any) { o.slice(obj.(*discoveryv1.EndpointSlice), false) },
			DeleteFunc: func(obj any) {
				if s, ok := obj.(*discoveryv1.EndpointSlice); ok {
					o.slice(s, true)
				}
			},
		}},
		{all.Core().V1().Nodes().Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { o.node(obj.(*corev1.Node)) },
			UpdateFunc: func(_, obj any) { o.node(obj.(*corev1.Node)) },
		}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			cancel()
			return nil, err
		}
	}
	nsf.Start(ctx.Done())
	all.Start(ctx.Done())
	for _, ok := range nsf.WaitForCacheSync(ctx.Done()) {
		if !ok {
			cancel()
			return nil, fmt.Errorf("observe %s: caches did not sync", ns)
		}
	}
	all.WaitForCacheSync(ctx.Done())
	go func() {
		<-ctx.Done()
		nsf.Shutdown()
		all.Shutdown()
		close(o.done)
	}()
	return o, nil
}

// Stop ends the watches.
func (o *Observer) Stop() {
	o.stop()
	<-o.done
}

func (o *Observer) add(kind, detail string) {
	o.tl.Add(report.Event{At: time.Now(), Kind: kind, Detail: detail})
}

// record appends a readiness point; callers hold o.mu.
func (o *Observer) record() {
	total := 0
	for _, n := range o.eps {
		total += n
	}
	o.series = append(o.series, readiness{at: time.Now(), ready: int(o.ready), endpoints: total, desired: int(o.desired)})
}

func (o *Observer) deployment(d *appsv1.Deployment) {
	o.workload("Deployment/"+d.Name, ptr.Deref(d.Spec.Replicas, 1), d.Status.ReadyReplicas)
}

func (o *Observer) statefulSet(s *appsv1.StatefulSet) {
	o.workload("StatefulSet/"+s.Name, ptr.Deref(s.Spec.Replicas, 1), s.Status.ReadyReplicas)
}

// workload records one workload's desired and ready replicas; the app's
// are the sums over its workloads.
func (o *Observer) workload(ref string, desired, ready int32) {
	if !slices.Contains(o.app.Workloads, ref) {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if old, ok := o.workloads[ref]; ok && old == [2]int32{desired, ready} {
		return
	}
	o.workloads[ref] = [2]int32{desired, ready}
	o.desired, o.ready = 0, 0
	for _, v := range o.workloads {
		o.desired += v[0]
		o.ready += v[1]
	}
	o.record()
	o.add(strings.ToLower(strings.SplitN(ref, "/", 2)[0]), fmt.Sprintf("%s ready %d/%d", ref[strings.Index(ref, "/")+1:], ready, desired))
}

func (o *Observer) pod(p *corev1.Pod, deleted bool) {
	if !o.sel.Matches(labels.Set(p.Labels)) {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	was, seen := o.podRdy[p.Name]
	switch {
	case deleted:
		delete(o.podRdy, p.Name)
		delete(o.stopping, p.Name)
		o.add("pod-deleted", p.Name)
		return
	case !seen:
		o.add("pod-added", fmt.Sprintf("%s on %s", p.Name, p.Spec.NodeName))
	}
	if p.DeletionTimestamp != nil && !o.stopping[p.Name] {
		// told to stop (deleted, its containers sent SIGTERM): when the
		// watch saw it, which report.Retirement measures serving from
		o.stopping[p.Name] = true
		o.add("pod-stopping", fmt.Sprintf("%s on %s", p.Name, p.Spec.NodeName))
	}
	rdy := isReady(p)
	if p.DeletionTimestamp != nil && (!seen || was) && !rdy {
		o.add("pod-terminating", p.Name)
	}
	if rdy != was || !seen {
		o.podRdy[p.Name] = rdy
		if seen || rdy {
			o.add(map[bool]string{true: "pod-ready", false: "pod-not-ready"}[rdy], fmt.Sprintf("%s on %s", p.Name, p.Spec.NodeName))
		}
	}
}

func (o *Observer) slice(s *discoveryv1.EndpointSlice, deleted bool) {
	if s.Labels[discoveryv1.LabelServiceName] != o.app.Service {
		return
	}
	n := 0
	if !deleted {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready == nil || *e.Conditions.Ready {
				n++
			}
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if old, ok := o.eps[s.Name]; ok && old == n && !deleted {
		return
	}
	o.eps[s.Name] = n
	if deleted {
		delete(o.eps, s.Name)
	}
	o.record()
	total := 0
	for _, v := range o.eps {
		total += v
	}
	o.add("endpoints", fmt.Sprintf("%s: %d ready", o.app.Service, total))
}

func (o *Observer) node(n *corev1.Node) {
	r := clusters.NodeReady(n)
	o.mu.Lock()
	defer o.mu.Unlock()
	was, seen := o.nodeRdy[n.Name]
	o.nodeRdy[n.Name] = r
	if seen && was != r {
		o.add(map[bool]string{true: "node-ready", false: "node-not-ready"}[r], n.Name)
	}
}

// ReadyEndpoints is the number of ready endpoints of the app's Service now.
func (o *Observer) ReadyEndpoints() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := 0
	for _, v := range o.eps {
		t += v
	}
	return t
}

// ClusterRecovery is, for a fault injected at inject, the time from inject
// until the Deployment had all desired replicas ready and the Service that
// many ready endpoints again, after having fallen short; nil when it never
// fell short between inject and until (or never came back).
func (o *Observer) ClusterRecovery(inject, until time.Time) *time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	return clusterRecovery(o.series, inject, until)
}

func clusterRecovery(series []readiness, inject, until time.Time) *time.Duration {
	short := false
	for _, p := range series {
		if p.at.Before(inject) || p.at.After(until) {
			continue
		}
		full := p.desired > 0 && p.ready >= p.desired && p.endpoints >= p.desired
		if !full {
			short = true
			continue
		}
		if short {
			d := p.at.Sub(inject)
			return &d
		}
	}
	return nil
}

// SettleMargin is added after the ready set is whole again: kube-proxy on
// every node needs a moment to program the new endpoints.
const SettleMargin = 2 * time.Second

// UnstableSpans are the times between from and to when the app's ready set
// was changing: from the first observation of fewer ready replicas or
// endpoints than desired until they were all back, plus SettleMargin.
func (o *Observer) UnstableSpans(from, to time.Time) []report.Span {
	o.mu.Lock()
	defer o.mu.Unlock()
	return unstableSpans(o.series, from, to)
}

func unstableSpans(series []readiness, from, to time.Time) []report.Span {
	var out []report.Span
	var open *report.Span
	for _, p := range series {
		if p.at.After(to) {
			break
		}
		full := p.desired > 0 && p.ready >= p.desired && p.endpoints >= p.desired
		switch {
		case !full && open == nil:
			open = &report.Span{From: p.at}
		case full && open != nil:
			open.To = p.at.Add(SettleMargin)
			if open.To.After(from) {
				out = append(out, *open)
			}
			open = nil
		}
	}
	if open != nil {
		open.To = to
		out = append(out, *open)
	}
	return out
}
