package server

import (
	"testing"
	"time"
)

func TestSamplerLimitsPerSecond(t *testing.T) {
	s := &sampler{limit: 3}
	t0 := time.Unix(1000, 0)
	var allowed int
	for i := 0; i < 10; i++ {
		if ok, _ := s.allow(t0); ok {
			allowed++
		}
	}
	if allowed != 3 {
		t.Fatalf("allowed %d events in one second, want 3", allowed)
	}
	ok, sup := s.allow(t0.Add(time.Second))
	if !ok || sup != 7 {
		t.Fatalf("next second: ok=%v suppressed=%d, want true and 7", ok, sup)
	}
}
