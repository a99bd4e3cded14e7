package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/go-plugin"
)

// Faults of a plugin's output: garbage instead of a handshake, floods of stderr lines.
func init() {
	// 1 MiB of garbage on stdout where the handshake line belongs, then hang.
	registerStart("huge-handshake-line", func(*plugin.ServeConfig) {
		fmt.Fprintln(os.Stderr, "faultplugin: writing huge-handshake-line handshake line")
		fmt.Println(strings.Repeat("x", 1<<20))
		select {}
	})
	// 20,000 plain lines on the real stderr (the host logs each one), then serve normally.
	registerStart("stderr-flood", func(*plugin.ServeConfig) {
		line := "faultplugin: flooding stderr " + strings.Repeat(".", 70) + "\n"
		fmt.Fprint(os.Stderr, strings.Repeat(line, 20000))
	})
	// 50 stderr lines of 100 KiB each (longer than go-plugin's 64 KiB line buffer), then serve.
	registerStart("stderr-long-lines", func(*plugin.ServeConfig) {
		line := "faultplugin: long line " + strings.Repeat("-", 100<<10) + "\n"
		fmt.Fprint(os.Stderr, strings.Repeat(line, 50))
	})
}
