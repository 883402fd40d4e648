// Command mqbench benchmarks MQTT brokers: see `mqbench -h` and the bench package.
package main

import (
	"os"

	"loopmq/bench"
)

func main() {
	if os.Getenv(bench.WorkerEnv) == "1" || (len(os.Args) > 1 && os.Args[1] == "worker") {
		if err := bench.WorkerMain(os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString("mqbench worker: " + err.Error() + "\n")
			os.Exit(1)
		}
		return
	}
	os.Exit(bench.Main(os.Args[1:], os.Stdout, os.Stderr))
}
