// Package scenarios owns scenario specs (YAML files and the same spec as Go
// types) and the runner that wires the rest together, one way:
//
//	spec -> cluster + app -> (load || fault schedule) -> samples + timeline
//	     -> metrics -> verdict -> reports
//
// Each scenarios/*.yaml is run by `go test ./scenarios/...` as its own test
// and by `aftershock run FILE`. The runner reuses one cluster across the
// scenarios of a process, with one namespace per scenario. It does not talk
// to Docker or vegeta directly (clusters, faults and loadgen do).
package scenarios
