package faults

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// execFunc runs a command (argv, never through a shell) somewhere: in a
// node container, in a pod's network namespace from its node, or locally
// in tests.
type execFunc func(ctx context.Context, cmd ...string) (string, error)

// inNode runs commands in a node's container, in the network namespace of
// process pid when pid is not empty.
func inNode(node, pid string) execFunc {
	return func(ctx context.Context, cmd ...string) (string, error) {
		if pid != "" {
			cmd = append([]string{"nsenter", "-t", pid, "-n"}, cmd...)
		}
		return nodeExec(ctx, node, cmd...)
	}
}

// ruleTables are the iptables tables aftershock's faults add rules to.
var ruleTables = []string{"filter", "nat"}

// deleteRules removes every iptables rule whose comment starts with tag from
// the namespace run reaches; idempotent. It reads iptables-save, parses each
// rule into arguments in Go and deletes it with `iptables -D` given those
// arguments: nothing read from the node is ever evaluated by a shell (a
// rule's comment may hold `$(...)`). Rules go last first, so a bypass
// inserted in front of a rule outlives it.
func deleteRules(ctx context.Context, run execFunc, tag string) error {
	var errs []error
	for _, table := range ruleTables {
		out, err := run(ctx, "iptables-save", "-t", table)
		if err != nil {
			return fmt.Errorf("iptables-save -t %s: %w", table, err)
		}
		rules, err := taggedRules(out, tag)
		if err != nil {
			return fmt.Errorf("table %s: %w", table, err)
		}
		for i := len(rules) - 1; i >= 0; i-- {
			args := append([]string{"iptables", "-w", "-t", table, "-D"}, rules[i][1:]...)
			if _, err := run(ctx, args...); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// verify: nothing carrying the tag is left
	for _, table := range ruleTables {
		out, err := run(ctx, "iptables-save", "-t", table)
		if err != nil {
			return fmt.Errorf("iptables-save -t %s: %w", table, err)
		}
		if left, err := taggedRules(out, tag); err != nil || len(left) > 0 {
			return fmt.Errorf("table %s: %d rule(s) tagged %q left after delete (%v)", table, len(left), tag, err)
		}
	}
	return nil
}

// taggedRules returns the rules (as arguments: "-A", chain, spec...) of an
// iptables-save listing whose --comment starts with tag.
func taggedRules(save, tag string) ([][]string, error) {
	var out [][]string
	for _, line := range strings.Split(save, "\n") {
		if !strings.HasPrefix(line, "-A ") || !strings.Contains(line, tag) {
			continue
		}
		args, err := splitRule(line)
		if err != nil {
			return nil, err
		}
		if ruleComment(args, tag) {
			out = append(out, args)
		}
	}
	return out, nil
}

// ruleComment reports whether one of the rule's comments starts with tag.
func ruleComment(args []string, tag string) bool {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--comment" && strings.HasPrefix(args[i+1], tag) {
			return true
		}
	}
	return false
}

// splitRule splits one iptables-save rule line into its arguments: words
// separated by blanks, double-quoted strings with backslash escapes (how
// iptables-save writes a comment) as one argument.
func splitRule(line string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case quoted && c == '"':
			quoted = false
		case quoted:
			cur.WriteByte(c)
		case c == '"':
			quoted, inWord = true, true
		case c == ' ' || c == '\t':
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("iptables rule with an unterminated quote: %q", line)
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args, nil
}
