// Command counter-plugin serves proto/counter/counter.proto: a counter that asks its host to do
// the adding, over the GRPCBroker (go-plugin's examples/bidirectional, from generated glue).
// Its host and go-plugin's own bidirectional host can both load it.
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/hashicorp/go-plugin"

	"github.com/goplugin-py/goplugin/examples-go/gen/counter"
)

type store struct {
	broker *plugin.GRPCBroker
}

// SetBroker is called by the generated CounterPlugin when it serves: the host's callbacks are
// reached through this broker.
func (s *store) SetBroker(b *plugin.GRPCBroker) { s.broker = b }

func (s *store) value(key string) int64 {
	var data struct{ Value int64 }
	if raw, err := os.ReadFile("kv_" + key); err == nil {
		_ = json.Unmarshal(raw, &data)
	}
	return data.Value
}

func (s *store) Put(ctx context.Context, req *counter.CounterPutRequest) (*counter.CounterEmpty, error) {
	conn, err := s.broker.Dial(req.AddServer)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	sum, err := counter.NewAddHelperClient(conn).Sum(ctx, &counter.SumRequest{A: s.value(req.Key), B: req.Value})
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(struct{ Value int64 }{sum.R})
	if err != nil {
		return nil, err
	}
	return &counter.CounterEmpty{}, os.WriteFile("kv_"+req.Key, raw, 0o644)
}

func (s *store) Get(ctx context.Context, req *counter.CounterGetRequest) (*counter.CounterGetResponse, error) {
	return &counter.CounterGetResponse{Value: s.value(req.Key)}, nil
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion: 1, MagicCookieKey: "BASIC_PLUGIN", MagicCookieValue: "hello",
		},
		Plugins:    plugin.PluginSet{"counter": &counter.CounterPlugin{Impl: &store{}}},
		GRPCServer: counter.GRPCServer,
	})
}
