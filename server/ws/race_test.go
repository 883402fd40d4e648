//go:build race

package ws

// raceEnabled shortens byte-heavy tests, which the race detector slows tenfold.
const raceEnabled = true
