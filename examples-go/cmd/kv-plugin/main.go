// Command kv-plugin serves proto/kv/kv.proto as a go-plugin plugin. Everything go-plugin needs
// comes from the generated package; this file is only the store. Like go-plugin's
// examples/grpc plugins, each key lives in a file kv_<key> in the working directory.
package main

import (
	"context"
	"errors"
	"io/fs"
	"os"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/goplugin-py/goplugin/examples-go/gen/kv"
)

type store struct{}

func (store) Put(ctx context.Context, req *kv.PutRequest) (*kv.Empty, error) {
	if err := os.WriteFile("kv_"+req.Key, req.Value, 0o644); err != nil {
		return nil, err
	}
	return &kv.Empty{}, nil
}

func (store) Get(ctx context.Context, req *kv.GetRequest) (*kv.GetResponse, error) {
	value, err := os.ReadFile("kv_" + req.Key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, status.Errorf(codes.NotFound, "no key %q", req.Key)
	}
	if err != nil {
		return nil, err
	}
	return &kv.GetResponse{Value: value}, nil
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		// go-plugin's examples/grpc handshake: its host can load this plugin too.
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion: 1, MagicCookieKey: "BASIC_PLUGIN", MagicCookieValue: "hello",
		},
		Plugins:    plugin.PluginSet{"kv": &kv.KVPlugin{Impl: store{}}},
		GRPCServer: kv.GRPCServer, // accepts messages as large as hosts send
	})
}
