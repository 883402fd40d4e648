//go:build race

package ws

// raceEnabled skips allocation counts, which the race detector's instrumentation can disturb.
const raceEnabled = true
