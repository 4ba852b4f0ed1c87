package faults

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
)

// NewRunID returns a random run id for marking what a run leaves behind.
func NewRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// New makes the fault a spec describes, acting on env. Victims are chosen
// at Inject time with env.Rand.
func New(s Spec, env *Env) (Fault, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if env.Cluster == nil {
		return nil, fmt.Errorf("%s: no cluster", s.Type)
	}
	if env.Rand == nil {
		env.Rand = mrand.New(mrand.NewPCG(1, 1))
	}
	if env.RunID == "" {
		env.RunID = NewRunID()
	}
	tag := fmt.Sprintf("%s:%s:%s", tagPrefix, env.RunID, NewRunID())
	switch s.Type {
	case PodKill:
		return &podKill{env: env, spec: s}, nil
	case ContainerKill:
		return &containerKill{env: env, spec: s}, nil
	case NodeDrain:
		return &nodeDrain{env: env, spec: s}, nil
	case NodeStop:
		return &nodeContainer{env: env, spec: s}, nil
	case NodePause:
		return &nodeContainer{env: env, spec: s, pause: true}, nil
	case NetworkPartition:
		if s.Scope == ScopeNode {
			return &nodePartition{env: env, spec: s, tag: tag}, nil
		}
		fallthrough
	case NetworkDelay, NetworkLoss:
		return &podNetwork{env: env, spec: s, tag: tag, netem: map[string]bool{}}, nil
	}
	return nil, fmt.Errorf("type %q: not implemented", s.Type)
}

// tagPrefix starts every iptables comment and agent tag aftershock sets.
const tagPrefix = "aftershock"

// Scopes of a network partition.
const (
	ScopePods = "pods"
	ScopeNode = "node"
)
