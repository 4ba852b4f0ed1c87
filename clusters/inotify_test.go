package clusters

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestInotifyShortage(t *testing.T) {
	// two 3-node clusters fit in the kernel's default 128 (117 measured);
	// a third does not (its kubeadm init failed, stop 31's CI)
	assert.Empty(t, inotifyShortage(128, map[string]int{"aftershock-test-a": 3}, 3))
	assert.Empty(t, inotifyShortage(512, map[string]int{"a": 3, "b": 3, "c": 3}, 3))
	assert.Empty(t, inotifyShortage(0, map[string]int{"a": 30}, 3), "no limit read: nothing to say")

	m := inotifyShortage(128, map[string]int{"theirs-1": 3, "aftershock-test-0cc325": 3}, 3)
	assert.Contains(t, m, "6 kind node(s) already run")
	assert.Contains(t, m, "clusters: aftershock-test-0cc325, theirs-1")
	assert.Contains(t, m, "(clusters: aftershock-test-0cc325, theirs-1); with 3 more they need about 180 inotify instances")
	assert.Contains(t, m, "max_user_instances is 128")
	assert.Contains(t, m, "sysctl -w fs.inotify.max_user_instances=512")

	assert.Contains(t, inotifyShortage(40, nil, 3), "0 kind node(s) already run on this machine (clusters: none); with 3 more")

	// past the limit already (a rollout whose pods never start): no "more"
	now := inotifyShortage(128, map[string]int{"a": 3, "b": 3, "c": 3}, 0)
	assert.Contains(t, now, "9 kind node(s) already run on this machine (clusters: a, b, c); they need about 180 inotify instances")
	assert.Empty(t, inotifyShortage(128, map[string]int{"a": 3, "b": 3}, 0))
}
