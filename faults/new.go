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
	return typeOf(s.Type).new(s, env, tag), nil
}

// tagPrefix starts every iptables comment and agent tag aftershock sets.
const tagPrefix = "aftershock"
