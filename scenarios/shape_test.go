package scenarios

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aftershock-dev/aftershock/loadgen"
	"github.com/aftershock-dev/aftershock/report"
)

func TestParseLoadShapes(t *testing.T) {
	const s = time.Second
	tests := []struct {
		shape string
		want  loadgen.Shape
	}{
		{"{spike: {to: 500/s, at: 20s, for: 15s}}", loadgen.Shape{{For: 20 * s, From: 100, To: 100}, {For: 15 * s, From: 500, To: 500}, {For: 25 * s, From: 100, To: 100}}},
		{"{spike: {to: 500/s, at: 45s, for: 15s}}", loadgen.Shape{{For: 45 * s, From: 100, To: 100}, {For: 15 * s, From: 500, To: 500}}},
		{"{ramp: {to: 300/s, at: 10s, for: 20s}}", loadgen.Shape{{For: 10 * s, From: 100, To: 100}, {For: 20 * s, From: 100, To: 300}, {For: 30 * s, From: 300, To: 300}}},
		{"{steps: [{at: 20s, rate: 300/s}, {at: 40s, rate: 50/s}]}", loadgen.Shape{{For: 20 * s, From: 100, To: 100}, {For: 20 * s, From: 300, To: 300}, {For: 20 * s, From: 50, To: 50}}},
	}
	for _, tt := range tests {
		t.Run(tt.shape, func(t *testing.T) {
			spec, err := Parse([]byte("name: x\nload: {rate: 100/s, duration: 60s, shape: "+tt.shape+"}\nslo: {availability: 99%}\n"), "f.yaml")
			require.NoError(t, err)
			assert.Equal(t, tt.want, spec.Load.Shape)
			assert.Equal(t, int(tt.want.Planned()), spec.Load.Planned(), "planned is the shape's integral")
		})
	}
}

func TestParseLoadShapeErrors(t *testing.T) {
	base := "name: x\nslo: {availability: 99%}\nload: {rate: 100/s, duration: 60s, shape: "
	tests := []struct{ shape, want string }{
		{"{}}", `f.yaml: load.shape: want exactly one of spike, ramp or steps`},
		{"{spike: {to: 500/s, at: 5s, for: 5s}, ramp: {to: 5/s, at: 1s, for: 1s}}}", `load.shape: want exactly one`},
		{"{spike: {at: 20s, for: 15s}}}", `f.yaml: load.shape.spike.to: required`},
		{"{spike: {to: 500/s, at: 20s}}}", `f.yaml: load.shape.spike.for: required`},
		{"{spike: {to: 500/s, at: 50s, for: 15s}}}", `f.yaml: load.shape.spike.at: "50s": want a time after the start at which it and its for ends within load.duration (1m0s)`},
		{"{spike: {to: 9000/s, at: 5s, for: 5s}}}", `f.yaml: load.shape.spike.to: "9000/s": above 5000/s`},
		{"{ramp: {to: 5x/s, at: 5s, for: 5s}}}", `f.yaml: load.shape.ramp.to: "5x/s": not a positive rate`},
		{"{steps: [{at: 20s, rate: 300/s}, {at: 10s, rate: 50/s}]}}", `f.yaml: load.shape.steps[1].at: "10s": steps go in time order: after 20s`},
		{"{steps: [{at: 20s, rate: 300/s, for: 5s}]}}", `f.yaml: load.shape.steps[0]: a step has at and rate`},
		{"{steps: [{at: 20s}]}}", `f.yaml: load.shape.steps[0].rate: required`},
		{"{spike: {to: 500/s, at: 5s, for: 5s}}, rampFrom: 10/s}", `f.yaml: load.rampFrom: "10": not with load.shape`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := Parse([]byte(base+tt.shape+"\n"), "f.yaml")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestLoadSegmentsNameEachPart(t *testing.T) {
	sh := loadgen.Shape{{For: 10 * time.Second, From: 100, To: 100}, {For: 5 * time.Second, From: 100, To: 300}}
	got := loadSegments(sh)
	assert.Equal(t, []report.LoadSegment{
		{Name: "0s-10s at 100/s", From: 0, To: report.Duration(10 * time.Second), Planned: 1000},
		{Name: "10s-15s from 100/s to 300/s", From: report.Duration(10 * time.Second), To: report.Duration(15 * time.Second), Planned: 1000},
	}, got)
	assert.Equal(t, "0s-10s at 100/s, 10s-15s from 100/s to 300/s", describeShape(sh))
	assert.Empty(t, loadSegments(nil))
}
