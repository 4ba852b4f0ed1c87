# aftershock: the two commands in README.md are `make demo` and `make test`.
GO ?= go
OUT ?= reports/demo

.PHONY: demo test test-short prepare node-image ingress-image example-images install bench clean

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

# The own-service example's image (go-httpbin, built from the Go module proxy)
# in the local Docker engine; the tests build it themselves when missing.
example-images: prepare
	$(GO) run ./scenarios/examples/httpbin/image

# One self-contained binary in $(GOBIN) (or ~/go/bin): runs scenarios from any
# folder with only Docker present.
install:
	$(GO) install ./cmd/aftershock

# The main job: a demo scenario end to end on a fresh kind cluster, report in $(OUT).
demo: node-image
	$(GO) run ./cmd/aftershock run --out $(OUT) scenarios/pod-kill.yaml

# Every test: unit tests, then everything (end-to-end tests on real kind
# clusters included) with -p 1: one package, so one kind cluster, at a time,
# and -count=1: results of tests that talk to a cluster are never cached.
test: node-image ingress-image
	$(GO) test -short ./...
	$(GO) test -count=1 -p 1 -timeout 80m ./...

# Unit tests only: fast, no Docker.
test-short:
	$(GO) test -short ./...

bench:
	$(GO) test -short -run '^$$' -bench . -benchmem ./loadgen/ ./report/

# Remove every cluster aftershock created and anything a fault left behind.
clean:
	$(GO) run ./cmd/aftershock clean
