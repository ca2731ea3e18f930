//go:build race

package main

// raceEnabled: the race detector slows everything several times over, so
// tests do not hold latencies and heap sizes to their bounds.
const raceEnabled = true
