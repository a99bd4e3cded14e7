package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// pluginCPUNanos is the CPU time the plugin process has used so far, all its threads together
// (the first field of each /proc/PID/task/TID/schedstat, in ns), or -1 if unknown. Threads
// that already exited are not counted: grpc servers keep their pools, so deltas over a batch
// of calls hold.
func pluginCPUNanos(pid int) int64 {
	if pid <= 0 {
		return -1
	}
	tasks, err := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*", "schedstat"))
	if err != nil || len(tasks) == 0 {
		return -1
	}
	var total int64
	for _, path := range tasks {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // the thread exited meanwhile
		}
		fields := strings.Fields(string(data))
		if len(fields) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(fields[0], 10, 64)
		if err == nil {
			total += ns
		}
	}
	return total
}
