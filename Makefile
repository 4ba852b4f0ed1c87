# aftershock: the two commands in README.md are `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
OUT ?= reports/demo

.PHONY: demo test test-short prepare node-image ingress-image metrics-image example-images install bench clean

# Docker engine, debootstrap, chromium (installed and started if missing; needs root on a bare machine).
prepare:
	.ci/prepare

# Offline kind node image: built once (about 10 min cold), reused in seconds.
node-image: prepare
	$(GO) run ./cmd/aftershock node-image

# The Ingress controller's image (Traefik, compiled from the Go module proxy;
# about 5 min cold, cached in ~/.cache/aftershock/ingress).
ingress-image:
	$(GO) run ./cmd/aftershock ingress-image

# metrics-server's image (compiled from the Go module proxy; about 7 min
# cold on 2 cores, cached in ~/.cache/aftershock/metrics-server): what a
# scenario with app.autoscale installs.
metrics-image:
	$(GO) run ./cmd/aftershock metrics-image

# The own-service examples' images in the local Docker engine, built from the
# Go module proxy: go-httpbin (HTTP) and podinfo (gRPC; about 3 min cold,
# cached in ~/.cache/aftershock/examples). The tests build them when missing.
example-images: prepare
	$(GO) run ./scenarios/examples/httpbin/image
	$(GO) run ./scenarios/examples/podinfo/image

# One self-contained binary in $(GOBIN) (or ~/go/bin): runs scenarios from any
# folder with only Docker present.
install:
	$(GO) install ./cmd/aftershock

# The main job: a demo scenario end to end on a fresh kind cluster, report in $(OUT).
demo: node-image
	$(GO) run ./cmd/aftershock run --out $(OUT) scenarios/pod-kill.yaml

# Every test: the unit tests (-short, quiet machine), then the end-to-end
# ones (TestIntegration*, TestScenarios: real kind clusters, Docker, root,
# Chromium), so no timing-sensitive unit test runs beside a cluster's load.
# The end-to-end packages share one kind cluster
# (AFTERSHOCK_TEST_CLUSTER, created by the first that needs it, deleted at
# the end), one package at a time (-p 1: two at once, with the clusters
# some tests need of their own, overloaded 2 cores) and up to 4 tests of a
# package at once (-parallel 4); each scenario takes a lease on the cluster
# (side by side, or alone when its faults hit whole nodes). -count=1:
# results of tests that talk to a cluster are never cached.
test: node-image ingress-image metrics-image example-images
	$(GO) test -short ./...
	@name=aftershock-test-$$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n'); \
	echo "test: shared cluster $$name"; \
	AFTERSHOCK_TEST_CLUSTER=$$name $(GO) test -v -count=1 -p 1 -parallel 4 -timeout 80m -run '^(TestIntegration|TestScenarios$$)' ./...; code=$$?; \
	$(GO) run ./cmd/aftershock clean $$name >/dev/null 2>&1 || true; \
	exit $$code

# Unit tests only: fast, no Docker.
test-short:
	$(GO) test -short ./...

# The speed and memory figures (benchmarks: a quiet machine, a few
# minutes), then one table of them: each figure, its floor, pass or not.
bench:
	@log=$$(mktemp); \
	$(GO) test -short -run '^$$' -bench . -benchmem -timeout 30m ./loadgen/ ./report/ | tee $$log; code=$${PIPESTATUS[0]}; \
	echo; printf '%-72s %-16s %-16s %s\n' FIGURE VALUE FLOOR RESULT; \
	awk -F'\t' '/^bench-figure/ {printf "%-72s %-16s %-16s %s\n", $$2, $$3, $$4, $$5}' $$log; \
	rm -f $$log; exit $$code

# Remove every cluster aftershock created and anything a fault left behind.
clean:
	$(GO) run ./cmd/aftershock clean
