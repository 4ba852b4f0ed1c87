// Package scenariotest runs aftershock scenarios from a Go test, so a team
// can keep resilience scenarios next to its service and gate them with its
// own `go test ./...`:
//
//	func TestMain(m *testing.M) { scenariotest.Main(m) }
//
//	func TestPodKill(t *testing.T) {
//		scenariotest.Run(t, "resilience/pod-kill.yaml")
//	}
//
// Every Run of a test binary shares one kind cluster (created on first use
// from the offline node image or AFTERSHOCK_NODE_IMAGE, deleted by Main
// unless AFTERSHOCK_KEEP_CLUSTER=1), each scenario in its own namespace,
// deleted in t.Cleanup. Progress goes to t.Log, the verdict to t.Error when
// it is not the scenario's `expect`, and the report folder is kept
// ($AFTERSHOCK_REPORTS/NAME, else a folder under the system's temp dir; its
// path is logged). Under -short, Run skips; without Docker it fails.
//
// It owns no logic of its own: it wires clusters/clustertest and scenarios.
package scenariotest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aftershock-dev/aftershock/clusters/clustertest"
	"github.com/aftershock-dev/aftershock/report"
	"github.com/aftershock-dev/aftershock/report/render"
	"github.com/aftershock-dev/aftershock/scenarios"
)

// Main makes the test binary multi-call (the sample app's image and the
// delay agent are the test binary itself), runs the tests, then deletes the
// shared cluster. Call it from TestMain.
func Main(m *testing.M) { clustertest.Main(m) }

var (
	mu  sync.Mutex
	env *scenarios.Env
)

// Timeout bounds one Run (cluster creation included).
const Timeout = 15 * time.Minute

// Run runs the scenario in file on the test binary's shared cluster and
// returns its result. The test fails when the scenario cannot run or its
// verdict is not the one it expects.
func Run(t *testing.T, file string) *report.Result {
	t.Helper()
	s, err := scenarios.ParseFile(file)
	if err != nil {
		t.Fatalf("scenario: %v", err)
	}
	c := clustertest.Shared(t)
	mu.Lock()
	if env == nil {
		img, err := clustertest.NodeImage(context.Background())
		if err != nil {
			mu.Unlock()
			t.Fatalf("node image: %v", err)
		}
		env = &scenarios.Env{Cluster: c, NodeImage: img}
	}
	e := env
	mu.Unlock()
	out := reportDir(s.Name)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	res, err := scenarios.Run(ctx, s, scenarios.Options{Env: e, Out: out, Progress: clustertest.LogWriter(t)})
	if err != nil {
		t.Fatalf("scenario %s: %v", s.Name, err)
	}
	t.Logf("%s", render.Summary(res))
	t.Logf("report: %s", out)
	Gate(t, res)
	return res
}

// Gate fails t unless res met its expectation exactly as the CLI's gate
// says (report.Result.Gate): a negative control that fails for another
// reason than its `expect.check` fails the test.
func Gate(t testing.TB, res *report.Result) {
	t.Helper()
	if ok, why := res.Gate(); !ok {
		t.Errorf("scenario %s: %s: %s", res.Scenario, why, strings.Join(res.Reasons, "; "))
	}
}

// reportDir is where a scenario's report is kept.
func reportDir(name string) string {
	if d := os.Getenv("AFTERSHOCK_REPORTS"); d != "" {
		return filepath.Join(d, name)
	}
	return filepath.Join(os.TempDir(), "aftershock-reports", fmt.Sprintf("%s-%s", name, time.Now().Format("20060102-150405")))
}
