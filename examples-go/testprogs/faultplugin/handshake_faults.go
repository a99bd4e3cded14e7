package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-plugin"
)

// Handshake lines a host must refuse, each written instead of serving: the plugin then blocks
// (or exits, where the name says so) until it is killed. A line that announces an address
// announces one nobody listens at, so a host that does not refuse the line fails later, and
// the test sees the difference.
func init() {
	lines := map[string]string{
		// Not a handshake at all.
		"garbage-line": "this is not a handshake line",
		// go-plugin's core protocol is 1; a host must refuse any other.
		"core-version-2": "2|1|unix|/nonexistent/plugin.sock|grpc|",
		// An app protocol version the host did not offer (it offers 1).
		"app-version-99": "1|99|unix|/nonexistent/plugin.sock|grpc|",
		// A wire protocol that does not exist.
		"protocol-http": "1|1|unix|/nonexistent/plugin.sock|http|",
		// A network type Go's net package does not know.
		"network-bogus": "1|1|carrier-pigeon|nowhere|grpc|",
		// A tcp address that does not parse.
		"address-garbage": "1|1|tcp|not an address|grpc|",
		// Too few fields.
		"short-line": "1|1|unix",
		// A version field that is not a number.
		"version-not-a-number": "one|1|unix|/nonexistent/plugin.sock|grpc|",
	}
	for name, line := range lines {
		registerStart(name, func(*plugin.ServeConfig) {
			fmt.Fprintf(os.Stderr, "faultplugin: writing %s handshake line\n", name)
			fmt.Println(line)
			_ = os.Stdout.Sync()
			select {}
		})
	}
	// Closes stdout without writing anything, and lives on.
	registerStart("stdout-closed", func(*plugin.ServeConfig) {
		fmt.Fprintln(os.Stderr, "faultplugin: closing stdout")
		_ = os.Stdout.Close()
		select {}
	})
	// Writes a valid handshake line for a socket it listens on, then exits before the host
	// connects: the host's connection or first call finds the process gone.
	registerStart("exit-after-handshake", func(*plugin.ServeConfig) {
		path := filepath.Join(socketDir(), "exits-after-handshake")
		if _, err := net.Listen("unix", path); err != nil {
			fmt.Fprintf(os.Stderr, "faultplugin: %v\n", err)
			os.Exit(2)
		}
		fmt.Printf("1|1|unix|%s|grpc|\n", path)
		_ = os.Stdout.Sync()
		fmt.Fprintln(os.Stderr, "faultplugin: exiting right after the handshake")
		os.Exit(5)
	})
}
