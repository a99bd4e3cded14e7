package main

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/goplugin-py/goplugin/examples-go/gen/kv"
)

// openStreams counts the streamer's streaming calls whose handler has not returned yet: a
// host that cancels a stream (break, task cancellation, kill) shows here as a drop.
var openStreams atomic.Int64

func init() {
	// count-streams (start fault) counts open streaming calls of the streamer;
	// KV.Get("fault:open-streams") answers the count, in decimal.
	registerStart("count-streams", func(cfg *plugin.ServeConfig) {
		next := cfg.GRPCServer
		cfg.GRPCServer = func(opts []grpc.ServerOption) *grpc.Server {
			return next(append(opts, grpc.ChainStreamInterceptor(countStreams)))
		}
	})
	registerCall("open-streams", func(ctx context.Context, arg string) (*kv.GetResponse, error) {
		return &kv.GetResponse{Value: []byte(strconv.FormatInt(openStreams.Load(), 10))}, nil
	})
}

func countStreams(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !strings.HasPrefix(info.FullMethod, "/streaming.Streamer/") {
		return handler(srv, ss)
	}
	openStreams.Add(1)
	defer openStreams.Add(-1)
	return handler(srv, ss)
}
