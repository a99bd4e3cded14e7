// Command faultplugin is a go-plugin plugin that misbehaves on purpose. The reliability tests
// launch it to check that a host survives whatever a plugin does, with a typed error, fast.
//
// Two ways to pick a fault, both by name from a registry that each fault file fills in init():
//   - before the handshake: GOPLUGIN_FAULT=name[,name...] runs startFaults[name] in order, then
//     serves normally (a start fault that should not serve exits or blocks by itself);
//   - in the middle of a call: KV.Get with key "fault:name" or "fault:name:arg" runs
//     callFaults[name](ctx, arg) and returns what it returns.
//
// It serves the KV contract (proto/kv) as "kv" and the streaming contract (proto/streaming) as
// "streamer", with go-plugin's examples' handshake (BASIC_PLUGIN=hello), unmodified go-plugin.
package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/goplugin-py/goplugin/examples-go/gen/kv"
	"github.com/goplugin-py/goplugin/examples-go/gen/streaming"
)

// startFault runs before plugin.Serve; it may change the serve config, exit or block.
type startFault func(cfg *plugin.ServeConfig)

// callFault answers a KV.Get whose key is "fault:<name>[:arg]".
type callFault func(ctx context.Context, arg string) (*kv.GetResponse, error)

var (
	startFaults = map[string]startFault{}
	callFaults  = map[string]callFault{}
)

func registerStart(name string, f startFault) { startFaults[name] = f }
func registerCall(name string, f callFault)   { callFaults[name] = f }

type store struct {
	mu   sync.Mutex
	data map[string][]byte
}

func (s *store) Put(ctx context.Context, req *kv.PutRequest) (*kv.Empty, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[req.Key] = req.Value
	return &kv.Empty{}, nil
}

func (s *store) Get(ctx context.Context, req *kv.GetRequest) (*kv.GetResponse, error) {
	if rest, ok := strings.CutPrefix(req.Key, "fault:"); ok {
		name, arg, _ := strings.Cut(rest, ":")
		f, found := callFaults[name]
		if !found {
			return nil, status.Errorf(codes.InvalidArgument, "unknown call fault %q (known: %s)", name, known(callFaults))
		}
		return f(ctx, arg)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	value, ok := s.data[req.Key]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no key %q", req.Key)
	}
	return &kv.GetResponse{Value: value}, nil
}

func known[F any](m map[string]F) string {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func main() {
	cfg := &plugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion: 1, MagicCookieKey: "BASIC_PLUGIN", MagicCookieValue: "hello",
		},
		Plugins: plugin.PluginSet{
			"kv":       &kv.KVPlugin{Impl: &store{data: map[string][]byte{}}},
			"streamer": &streaming.StreamerPlugin{Impl: &streamer{}},
		},
		GRPCServer: kv.GRPCServer,
	}
	if names := os.Getenv("GOPLUGIN_FAULT"); names != "" {
		for _, name := range strings.Split(names, ",") {
			f, ok := startFaults[name]
			if !ok {
				fmt.Fprintf(os.Stderr, "faultplugin: unknown start fault %q (known: %s)\n", name, known(startFaults))
				os.Exit(2)
			}
			f(cfg)
		}
	}
	plugin.Serve(cfg)
}
