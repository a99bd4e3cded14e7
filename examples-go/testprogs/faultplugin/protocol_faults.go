package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/goplugin-py/goplugin/examples-go/gen/kv"
)

// Faults for the tests of docs/protocol.md: a plugin whose go-plugin services misbehave in the
// ways a host must survive, and one that writes to its (redirected) stdout and stderr.
func init() {
	// ignore-shutdown: GRPCController.Shutdown answers OK and the plugin goes on serving, so
	// a host must fall back to killing it after its grace period.
	registerStart("ignore-shutdown", func(cfg *plugin.ServeConfig) {
		withInterceptors(cfg, map[string]codes.Code{"/plugin.GRPCController/Shutdown": codes.OK})
	})
	// bare-services: GRPCController, GRPCStdio and GRPCBroker answer Unimplemented, like a
	// minimal non-Go plugin that serves health and its own services only.
	registerStart("bare-services", func(cfg *plugin.ServeConfig) {
		withInterceptors(cfg, map[string]codes.Code{
			"/plugin.GRPCController/Shutdown": codes.Unimplemented,
			"/plugin.GRPCStdio/StreamStdio":   codes.Unimplemented,
			"/plugin.GRPCBroker/StartStream":  codes.Unimplemented,
		})
	})
	// log-calls: every gRPC call the plugin receives is logged, as it starts, on the real
	// stderr (the host's log), so tests see which of go-plugin's services a host calls, in
	// which order.
	registerStart("log-calls", func(cfg *plugin.ServeConfig) {
		logTo := os.Stderr // captured now: plugin.Serve redirects os.Stderr to GRPCStdio
		next := cfg.GRPCServer
		cfg.GRPCServer = func(opts []grpc.ServerOption) *grpc.Server {
			unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
				fmt.Fprintf(logTo, "[INFO] faultplugin: call %s\n", info.FullMethod)
				return h(ctx, req)
			}
			stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
				fmt.Fprintf(logTo, "[INFO] faultplugin: call %s\n", info.FullMethod)
				return h(srv, ss)
			}
			opts = append(opts, grpc.ChainUnaryInterceptor(unary), grpc.ChainStreamInterceptor(stream))
			return next(opts)
		}
	})
	// print:<out|err>:<n> writes n bytes to os.Stdout or os.Stderr, which go-plugin has
	// redirected to the GRPCStdio stream by then.
	registerCall("print", func(ctx context.Context, arg string) (*kv.GetResponse, error) {
		stream, count, _ := strings.Cut(arg, ":")
		n, err := strconv.Atoi(count)
		if err != nil {
			return nil, err
		}
		out := os.Stdout
		if stream == "err" {
			out = os.Stderr
		}
		data := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
		if _, err := out.Write(data); err != nil {
			return nil, err
		}
		return &kv.GetResponse{Value: []byte(fmt.Sprintf("printed %d", n))}, nil
	})
}

// withInterceptors answers the given methods itself instead of letting go-plugin's handlers
// run: codes.OK with an empty message (what GRPCController.Shutdown returns, without stopping
// anything), any other code as that error.
func withInterceptors(cfg *plugin.ServeConfig, answers map[string]codes.Code) {
	next := cfg.GRPCServer
	cfg.GRPCServer = func(opts []grpc.ServerOption) *grpc.Server {
		unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			code, ok := answers[info.FullMethod]
			switch {
			case !ok:
				return h(ctx, req)
			case code == codes.OK:
				return &emptypb.Empty{}, nil // encodes like go-plugin's plugin.Empty
			default:
				return nil, status.Error(code, "refused by faultplugin")
			}
		}
		stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if code, ok := answers[info.FullMethod]; ok {
				return status.Error(code, "refused by faultplugin")
			}
			return h(srv, ss)
		}
		opts = append(opts, grpc.ChainUnaryInterceptor(unary), grpc.ChainStreamInterceptor(stream))
		return next(opts)
	}
}
