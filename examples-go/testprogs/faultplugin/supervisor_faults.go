package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/go-plugin"
)

// Faults for the Supervisor's tests: a plugin that serves normally, then dies on its own.
func init() {
	// exit-after-start serves, then exits with status 5 once GOPLUGIN_FAULT_EXIT_AFTER_MS
	// milliseconds (default 300) have passed, saying so first on the process's real stderr
	// (plugin.Serve points os.Stderr at the GRPCStdio stream; the host's stderr tail reads fd 2).
	registerStart("exit-after-start", func(*plugin.ServeConfig) {
		after := 300
		if s := os.Getenv("GOPLUGIN_FAULT_EXIT_AFTER_MS"); s != "" {
			ms, err := strconv.Atoi(s)
			if err != nil {
				fmt.Fprintf(os.Stderr, "faultplugin: bad GOPLUGIN_FAULT_EXIT_AFTER_MS: %v\n", err)
				os.Exit(2)
			}
			after = ms
		}
		realStderr := os.Stderr
		go func() {
			time.Sleep(time.Duration(after) * time.Millisecond)
			fmt.Fprintln(realStderr, "faultplugin: exiting after start")
			os.Exit(5)
		}()
	})
}
