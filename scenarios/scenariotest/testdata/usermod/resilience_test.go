// A user's module gating its resilience with its own `go test ./...`.
package usermod

import (
	"testing"

	"github.com/aftershock-dev/aftershock/scenarios/scenariotest"
)

func TestMain(m *testing.M) { scenariotest.Main(m) }

func TestPodKill(t *testing.T) {
	res := scenariotest.Run(t, "resilience/pod-kill.yaml")
	if len(res.Faults) != 1 || !res.Faults[0].LandedVerdict {
		t.Errorf("the pod kill did not land: %+v", res.Faults)
	}
}
