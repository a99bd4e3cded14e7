package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/goplugin-py/goplugin/examples-go/gen/kv"
)

// The plain ways to die or stall, before the handshake and in the middle of a call.
func init() {
	registerStart("exit-before-handshake", func(*plugin.ServeConfig) {
		fmt.Fprintln(os.Stderr, "faultplugin: exiting before the handshake")
		os.Exit(3)
	})
	registerStart("hang-before-handshake", func(*plugin.ServeConfig) {
		fmt.Fprintln(os.Stderr, "faultplugin: hanging before the handshake")
		select {}
	})
	registerCall("exit", func(ctx context.Context, arg string) (*kv.GetResponse, error) {
		fmt.Fprintln(os.Stderr, "faultplugin: exiting mid-call")
		os.Exit(4)
		return nil, nil
	})
	registerCall("panic", func(ctx context.Context, arg string) (*kv.GetResponse, error) {
		panic("faultplugin: panic mid-call")
	})
	// sleep:<duration> sleeps, ignoring the caller's deadline and cancellation.
	registerCall("sleep", func(ctx context.Context, arg string) (*kv.GetResponse, error) {
		d, err := time.ParseDuration(arg)
		if err != nil {
			return nil, err
		}
		time.Sleep(d)
		return &kv.GetResponse{Value: []byte("slept " + arg)}, nil
	})
	// error:<text> returns a plain Go error (UNKNOWN with the text, as grpc-go sends it).
	registerCall("error", func(ctx context.Context, arg string) (*kv.GetResponse, error) {
		return nil, fmt.Errorf("%s", arg)
	})
}
