//go:build race

package server

// raceEnabled keeps the memory benchmarks (a million sessions, per-session components) out of race runs, whose
// shadow memory would distort them. The allocation and memory budget tests are not built under -race at all.
const raceEnabled = true
