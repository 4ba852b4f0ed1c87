package faults

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSplitRuleKeepsQuotedCommentsWhole(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
	}{
		{`-A INPUT -p tcp -m comment --comment aftershock:r1:x -j DROP`, []string{"-A", "INPUT", "-p", "tcp", "-m", "comment", "--comment", "aftershock:r1:x", "-j", "DROP"}},
		{`-A INPUT -m comment --comment "$(touch /tmp/x) \"q\" \\ b" -j ACCEPT`, []string{"-A", "INPUT", "-m", "comment", "--comment", `$(touch /tmp/x) "q" \ b`, "-j", "ACCEPT"}},
		{`-A OUTPUT ! -o lo -j DROP`, []string{"-A", "OUTPUT", "!", "-o", "lo", "-j", "DROP"}},
	} {
		got, err := splitRule(tc.line)
		require.NoError(t, err, tc.line)
		assert.Equal(t, tc.want, got, tc.line)
	}
	_, err := splitRule(`-A INPUT --comment "open`)
	assert.ErrorContains(t, err, "unterminated quote")
}

func TestTaggedRulesMatchTheCommentNotTheLine(t *testing.T) {
	save := strings.Join([]string{
		"*filter",
		`-A INPUT -m comment --comment "$(touch /tmp/f) aftershock:r1:a" -j ACCEPT`,
		`-A INPUT -p tcp -m comment --comment aftershock:r1:a -j DROP`,
		`-A INPUT -m comment --comment aftershock:r2:b -j DROP`,
		"COMMIT",
	}, "\n")
	got, err := taggedRules(save, "aftershock:r1:a")
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, []string{"-A", "INPUT", "-p", "tcp", "-m", "comment", "--comment", "aftershock:r1:a", "-j", "DROP"}, got[0])
	all, err := taggedRules(save, tagPrefix+":")
	require.NoError(t, err)
	assert.Len(t, all, 2)
}

// TestIntegrationDeleteRulesNeverEvaluatesRuleText plants a rule whose comment holds a
// command substitution next to aftershock's rules in a real network
// namespace and removes aftershock's rules: the planted rule stays, its
// command never runs. Needs root and iptables (not Docker).
func TestIntegrationDeleteRulesNeverEvaluatesRuleText(t *testing.T) {
	if testing.Short() {
		t.Skip("needs root, iptables and a network namespace; skipped under -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Fatalf("needs iptables (run `sudo .ci/prepare`): %v", err)
	}
	ns := fmt.Sprintf("aftershock-test-%d", os.Getpid())
	out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput()
	require.NoError(t, err, string(out))
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	run := func(ctx context.Context, cmd ...string) (string, error) {
		c := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, cmd...)...)
		out, err := c.Output()
		if err != nil {
			return string(out), fmt.Errorf("%s: %w", strings.Join(cmd, " "), err)
		}
		return string(out), nil
	}
	file := filepath.Join(t.TempDir(), "pwned")
	planted := fmt.Sprintf("$(touch %s) aftershock:x", file)
	ctx := context.Background()
	tag := "aftershock:run1:f1"
	for _, r := range [][]string{
		{"iptables", "-w", "-I", "INPUT", "-m", "comment", "--comment", planted, "-j", "ACCEPT"},
		{"iptables", "-w", "-I", "INPUT", "-p", "tcp", "--dport", "8080", "-m", "comment", "--comment", tag, "-j", "DROP"},
		{"iptables", "-w", "-I", "OUTPUT", "!", "-o", "lo", "-m", "comment", "--comment", tag, "-j", "DROP"},
		{"iptables", "-w", "-t", "nat", "-I", "PREROUTING", "-p", "tcp", "--dport", "8080", "-m", "comment", "--comment", tag, "-j", "REDIRECT", "--to-ports", "15000"},
		{"iptables", "-w", "-I", "INPUT", "-m", "comment", "--comment", "aftershock:other:run", "-j", "DROP"},
	} {
		_, err := run(ctx, r...)
		require.NoError(t, err)
	}
	require.NoError(t, deleteRules(ctx, run, tag))
	left, err := run(ctx, "iptables-save")
	require.NoError(t, err)
	assert.NotContains(t, left, tag, "the fault's rules are gone")
	assert.Contains(t, left, "aftershock:other:run", "another run's rule stays")
	// what clean does: every aftershock rule, never the planted one
	require.NoError(t, deleteRules(ctx, run, tagPrefix+":"))
	left, err = run(ctx, "iptables-save")
	require.NoError(t, err)
	assert.NotContains(t, left, "aftershock:other:run")
	assert.Contains(t, left, "touch "+file, "the owner's rule stays")
	assert.NoFileExists(t, file, "nothing read from iptables-save was evaluated")
	require.NoError(t, deleteRules(ctx, run, tag), "idempotent")
}
