package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"
)

const pingpongChild = "pingpong-child"

// pingpong is the physical floor: n round trips of size bytes over a unix socketpair between
// this process and a child (this binary re-executed), no framing, no RPC.
func pingpong(n, size int) (reply, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	mine := os.NewFile(uintptr(fds[0]), "pingpong")
	theirs := os.NewFile(uintptr(fds[1]), "pingpong-child")
	child := exec.Command(os.Args[0], pingpongChild, fmt.Sprint(size))
	child.ExtraFiles = []*os.File{theirs}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		return nil, err
	}
	theirs.Close()
	defer func() { mine.Close(); _ = child.Wait() }()
	conn, err := net.FileConn(mine)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	buf := make([]byte, size)
	lat := make([]int64, 0, n)
	for range n {
		start := time.Now()
		if _, err := conn.Write(buf); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(conn, buf); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(start).Nanoseconds())
	}
	return reply{"lat_ns": lat}, nil
}

// servePingpong echoes fixed-size messages on fd 3 until the parent closes it.
func servePingpong() {
	var size int
	if len(os.Args) < 3 {
		os.Exit(2)
	}
	fmt.Sscan(os.Args[2], &size)
	conn, err := net.FileConn(os.NewFile(3, "pingpong"))
	if err != nil {
		os.Exit(1)
	}
	buf := make([]byte, size)
	for {
		if _, err := io.ReadFull(conn, buf); err != nil {
			return
		}
		if _, err := conn.Write(buf); err != nil {
			return
		}
	}
}
