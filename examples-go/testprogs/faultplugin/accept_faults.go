package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/hashicorp/go-plugin"
)

// accept-silent-<protocol>: listens, announces the socket, accepts every connection and then
// neither reads nor writes (the host's HTTP/2 or yamux handshake gets no answer), holding the
// connections open until it is killed.
func init() {
	for _, protocol := range []string{"grpc", "netrpc"} {
		registerStart("accept-silent-"+protocol, func(*plugin.ServeConfig) {
			path := filepath.Join(socketDir(), "accepts-silently")
			listener, err := net.Listen("unix", path)
			if err != nil {
				fmt.Fprintf(os.Stderr, "faultplugin: %v\n", err)
				os.Exit(2)
			}
			fmt.Fprintf(os.Stderr, "faultplugin: accepting %s at %s, answering nothing\n", protocol, path)
			fmt.Printf("1|1|unix|%s|%s|\n", path, protocol)
			_ = os.Stdout.Sync()
			var mu sync.Mutex
			var held []net.Conn // kept reachable: a collected conn would be closed
			for {
				conn, err := listener.Accept()
				if err != nil {
					select {}
				}
				mu.Lock()
				held = append(held, conn)
				mu.Unlock()
			}
		})
	}
}
