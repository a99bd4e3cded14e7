package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/goplugin-py/goplugin/examples-go/gen/kv"
)

// Faults that reset the call's HTTP/2 stream (RST_STREAM) instead of answering: the host sees
// the stream removed, without a gRPC status, while the plugin lives on. A Go peer does this
// by itself when a deadline expires (grpc-go's server resets the stream with CANCEL); these
// make it happen at a chosen moment.
func init() {
	// reset resets the stream at once.
	registerCall("reset", func(ctx context.Context, arg string) (*kv.GetResponse, error) {
		resetStream(ctx)
		return nil, ctx.Err()
	})
	// reset-before-deadline:<margin> resets the stream <margin> before the caller's deadline.
	registerCall("reset-before-deadline", func(ctx context.Context, arg string) (*kv.GetResponse, error) {
		margin, err := time.ParseDuration(arg)
		if err != nil {
			return nil, err
		}
		deadline, ok := ctx.Deadline()
		if !ok {
			return nil, fmt.Errorf("reset-before-deadline needs a call with a deadline")
		}
		timer := time.NewTimer(time.Until(deadline.Add(-margin)))
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		resetStream(ctx)
		return nil, ctx.Err()
	})
}

// resetStream makes grpc-go send RST_STREAM (INTERNAL_ERROR) for this call: it resets a stream
// whose response headers exceed the SETTINGS_MAX_HEADER_LIST_SIZE its client announced, and
// that is the one reset a handler can cause on purpose.
func resetStream(ctx context.Context) {
	_ = grpc.SendHeader(ctx, metadata.Pairs("fault-padding", strings.Repeat("x", 1<<20)))
}
