// gotime: what a Go program sees of the virtual clock (tests/linux/clock.sh).
// Sleeps of 1 ms, a spin-wait on the clock with no other exit, and the wall
// clock, printed; the test checks the values and that two runs of one seed
// print the same.
package main

import (
	"fmt"
	"time"
)

func main() {
	start := time.Now()
	for i := 0; i < 5; i++ {
		t0 := time.Now()
		time.Sleep(time.Millisecond)
		fmt.Printf("sleep(1ms) took %v\n", time.Since(t0))
	}
	t0 := time.Now()
	n := 0
	for time.Since(t0) < 2*time.Millisecond {
		n++
	}
	fmt.Printf("spin-wait of 2ms: %d clock reads\n", n)
	fmt.Printf("total %v, now %v\n", time.Since(start), time.Now().UTC().Format(time.RFC3339Nano))
}
