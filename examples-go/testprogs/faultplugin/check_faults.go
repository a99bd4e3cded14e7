package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// Each way a plugin can break one thing `python -m goplugin check` looks at, and nothing else:
// the check must name exactly that row. A fault that must not touch the refusal without the
// cookie (another row) acts only when the cookie is there.
func init() {
	registerStart("stray-stdout", func(*plugin.ServeConfig) {
		fmt.Println("faultplugin: loading configuration")
	})
	registerStart("serve-without-cookie", func(cfg *plugin.ServeConfig) {
		os.Setenv(cfg.MagicCookieKey, cfg.MagicCookieValue)
	})
	registerStart("exit-zero-without-cookie", func(cfg *plugin.ServeConfig) {
		if !hasCookie(cfg) {
			fmt.Fprintln(os.Stderr, "This binary is a plugin. These are not meant to be executed directly.")
			os.Exit(0)
		}
	})
	registerStart("silent-without-cookie", func(cfg *plugin.ServeConfig) {
		if !hasCookie(cfg) {
			os.Exit(1)
		}
	})
	registerStart("bad-handshake-line", func(cfg *plugin.ServeConfig) {
		if hasCookie(cfg) {
			fmt.Println("1|one|unix|/nonexistent/plugin|grpc|")
			select {}
		}
	})
	registerStart("unasked-multiplexing", func(cfg *plugin.ServeConfig) {
		// go-plugin then adds the 7th handshake field although the host did not ask for it.
		if os.Getenv("PLUGIN_CLIENT_CERT") == "" {
			os.Setenv("PLUGIN_MULTIPLEX_GRPC", "true")
		}
	})
	registerStart("exit-on-unknown-version", func(cfg *plugin.ServeConfig) {
		if hasCookie(cfg) && !offered(cfg.ProtocolVersion) {
			fmt.Fprintln(os.Stderr, "faultplugin: the host offers no version I have")
			os.Exit(1)
		}
	})
	registerStart("claim-offered-version", func(cfg *plugin.ServeConfig) {
		// Serve the plugin set under every version the host offers: "yes" to anything.
		cfg.VersionedPlugins = map[int]plugin.PluginSet{}
		for _, v := range strings.Split(os.Getenv("PLUGIN_PROTOCOL_VERSIONS"), ",") {
			if n, err := strconv.Atoi(v); err == nil {
				cfg.VersionedPlugins[n] = cfg.Plugins
			}
		}
		cfg.Plugins = nil
	})
	registerStart("no-automtls", func(*plugin.ServeConfig) {
		os.Unsetenv("PLUGIN_CLIENT_CERT")
	})
	registerStart("health-not-serving", func(cfg *plugin.ServeConfig) {
		intercept(cfg, func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
			if info.FullMethod == "/grpc.health.v1.Health/Check" {
				return &grpc_health_v1.HealthCheckResponse{Status: grpc_health_v1.HealthCheckResponse_NOT_SERVING}, nil
			}
			return next(ctx, req)
		}, nil)
	})
	registerStart("no-stdio", func(cfg *plugin.ServeConfig) {
		refuseStream(cfg, "/plugin.GRPCStdio/StreamStdio")
	})
	registerStart("no-reflection", func(cfg *plugin.ServeConfig) {
		refuseStream(cfg, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
			"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
	})
	registerStart("ignore-shutdown", func(cfg *plugin.ServeConfig) {
		intercept(cfg, func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
			if info.FullMethod == "/plugin.GRPCController/Shutdown" {
				return nil, status.Error(codes.Unavailable, "faultplugin: not shutting down")
			}
			return next(ctx, req)
		}, nil)
	})
}

func hasCookie(cfg *plugin.ServeConfig) bool {
	return os.Getenv(cfg.MagicCookieKey) == cfg.MagicCookieValue
}

func offered(version uint) bool {
	for _, v := range strings.Split(os.Getenv("PLUGIN_PROTOCOL_VERSIONS"), ",") {
		if v == strconv.FormatUint(uint64(version), 10) {
			return true
		}
	}
	return false
}

// intercept wraps the plugin's gRPC server with interceptors (go-plugin registers its own
// services on that server, so they pass through them too).
func intercept(cfg *plugin.ServeConfig, unary grpc.UnaryServerInterceptor, stream grpc.StreamServerInterceptor) {
	base := cfg.GRPCServer
	cfg.GRPCServer = func(opts []grpc.ServerOption) *grpc.Server {
		if unary != nil {
			opts = append(opts, grpc.ChainUnaryInterceptor(unary))
		}
		if stream != nil {
			opts = append(opts, grpc.ChainStreamInterceptor(stream))
		}
		return base(opts)
	}
}

func refuseStream(cfg *plugin.ServeConfig, methods ...string) {
	intercept(cfg, nil, func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
		for _, m := range methods {
			if info.FullMethod == m {
				return status.Errorf(codes.Unimplemented, "unknown service (faultplugin)")
			}
		}
		return next(srv, ss)
	})
}
