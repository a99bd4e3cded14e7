package main

import (
	"context"
	"fmt"
	"os"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Plugins that do not stop when their host asks (GRPCController.Shutdown): the host's kill()
// must fall back to SIGKILL within its kill timeout.
func init() {
	// ignore-shutdown answers Shutdown with success and goes on serving.
	registerStart("ignore-shutdown", func(cfg *plugin.ServeConfig) {
		interceptShutdown(cfg, func(ctx context.Context) (any, error) {
			fmt.Fprintln(os.Stderr, "faultplugin: ignoring Shutdown")
			return &emptypb.Empty{}, nil
		})
	})
	// hang-shutdown never answers Shutdown, and goes on serving.
	registerStart("hang-shutdown", func(cfg *plugin.ServeConfig) {
		interceptShutdown(cfg, func(ctx context.Context) (any, error) {
			fmt.Fprintln(os.Stderr, "faultplugin: hanging in Shutdown")
			select {}
		})
	})
}

func interceptShutdown(cfg *plugin.ServeConfig, instead func(context.Context) (any, error)) {
	next := cfg.GRPCServer
	intercept := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if info.FullMethod == "/plugin.GRPCController/Shutdown" {
			return instead(ctx)
		}
		return handler(ctx, req)
	}
	cfg.GRPCServer = func(opts []grpc.ServerOption) *grpc.Server {
		return next(append(opts, grpc.ChainUnaryInterceptor(intercept)))
	}
}
