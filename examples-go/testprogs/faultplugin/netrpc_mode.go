package main

import (
	"context"
	"fmt"
	"net/rpc"
	"strings"

	"github.com/hashicorp/go-plugin"
)

// serve-netrpc serves "kv" over net/rpc instead of gRPC: Plugin.Get(key string) returns
// []byte, and runs the same call faults as KV.Get for a key "fault:name[:arg]" (with a
// context that is never cancelled: net/rpc has none). Other keys are echoed back.
func init() {
	registerStart("serve-netrpc", func(cfg *plugin.ServeConfig) {
		cfg.GRPCServer = nil
		cfg.Plugins = plugin.PluginSet{"kv": &netrpcKVPlugin{}}
	})
}

type netrpcKVPlugin struct{}

func (*netrpcKVPlugin) Server(*plugin.MuxBroker) (any, error) { return &netrpcKV{}, nil }

func (*netrpcKVPlugin) Client(*plugin.MuxBroker, *rpc.Client) (any, error) {
	return nil, fmt.Errorf("faultplugin serves, it is no host")
}

type netrpcKV struct{}

func (*netrpcKV) Get(key string, reply *[]byte) error {
	rest, ok := strings.CutPrefix(key, "fault:")
	if !ok {
		*reply = []byte(key)
		return nil
	}
	name, arg, _ := strings.Cut(rest, ":")
	f, found := callFaults[name]
	if !found {
		return fmt.Errorf("unknown call fault %q (known: %s)", name, known(callFaults))
	}
	resp, err := f(context.Background(), arg)
	if err != nil {
		return err
	}
	*reply = resp.GetValue()
	return nil
}
