package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-plugin"
)

// Plugins that announce an address where the host cannot get an answer: nothing listens
// there, or something listens but never accepts. Each writes its own handshake line (with
// the protocol in the fault's name) instead of serving, then blocks until it is killed.
func init() {
	for _, protocol := range []string{"grpc", "netrpc"} {
		registerStart("dead-address-"+protocol, func(*plugin.ServeConfig) {
			path := filepath.Join(socketDir(), "nobody-listens-here")
			announce(path, protocol)
		})
		registerStart("never-accept-"+protocol, func(*plugin.ServeConfig) {
			path := filepath.Join(socketDir(), "never-accepts")
			listener, err := net.Listen("unix", path)
			if err != nil {
				fmt.Fprintf(os.Stderr, "faultplugin: %v\n", err)
				os.Exit(2)
			}
			defer listener.Close() // never reached: the connection queue fills, nobody accepts
			announce(path, protocol)
		})
	}
}

func socketDir() string {
	if dir := os.Getenv("PLUGIN_UNIX_SOCKET_DIR"); dir != "" {
		return dir
	}
	return os.TempDir()
}

// announce writes a go-plugin handshake line for a unix socket address, then blocks.
func announce(path, protocol string) {
	fmt.Fprintf(os.Stderr, "faultplugin: announcing %s at %s\n", protocol, path)
	fmt.Printf("1|1|unix|%s|%s|\n", path, protocol)
	_ = os.Stdout.Sync()
	select {}
}
