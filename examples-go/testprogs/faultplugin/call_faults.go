package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/goplugin-py/goplugin/examples-go/gen/kv"
)

// blocked counts the calls inside "block": a host that wants N calls in flight before it
// does something (kill the plugin) asks "blocked" until the count is there.
var blocked atomic.Int64

func init() {
	// hang never returns, whatever the caller's deadline or cancellation.
	registerCall("hang", func(ctx context.Context, arg string) (*kv.GetResponse, error) {
		select {}
	})
	// block is hang, counted in "blocked".
	registerCall("block", func(ctx context.Context, arg string) (*kv.GetResponse, error) {
		blocked.Add(1)
		select {}
	})
	registerCall("blocked", func(ctx context.Context, arg string) (*kv.GetResponse, error) {
		return &kv.GetResponse{Value: []byte(strconv.FormatInt(blocked.Load(), 10))}, nil
	})
	// stderr-flood:<lines> writes that many lines to stderr, then answers.
	registerCall("stderr-flood", func(ctx context.Context, arg string) (*kv.GetResponse, error) {
		n, err := strconv.Atoi(arg)
		if err != nil {
			return nil, err
		}
		line := "faultplugin: flooding stderr mid-call " + strings.Repeat(".", 60) + "\n"
		fmt.Fprint(os.Stderr, strings.Repeat(line, n))
		return &kv.GetResponse{Value: []byte("flooded")}, nil
	})
}
