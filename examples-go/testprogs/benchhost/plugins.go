package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/examples/basic/shared"

	"github.com/goplugin-py/goplugin/examples-go/gen/kv"
	"github.com/goplugin-py/goplugin/examples-go/gen/streaming"
)

// benchKey is the key every KV row reads; open() stores it, so a Get is one small message each
// way on every plugin (go-plugin's plugin-python appends a suffix on Put: a few bytes more).
const benchKey = "bench"

var benchValue = []byte("0123456789abcdef")

// host holds the plugin the measuring commands use, and how to launch more like it.
type host struct {
	contract string
	cmd      []string
	autoMTLS bool
	client   *plugin.Client
	kv       kv.KV
	streamer streaming.Streamer
	greeter  shared.Greeter
}

// loaded is one launched plugin and the interface dispensed from it.
type loaded struct {
	client *plugin.Client
	impl   any
}

// newClient is the go-plugin configuration of every row: only the contract decides it. Plugin
// logs are parsed by go-plugin as always and then dropped, like a host that logs at Error.
func (h *host) newClient() *plugin.Client {
	cookie := plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "BASIC_PLUGIN", MagicCookieValue: "hello"}
	protocols := []plugin.Protocol{plugin.ProtocolGRPC}
	var set plugin.PluginSet
	switch h.contract {
	case "kv":
		set = plugin.PluginSet{"kv": &kv.KVPlugin{}}
	case "streaming":
		cookie.MagicCookieKey, cookie.MagicCookieValue = "STREAMING_PLUGIN", "events"
		set = plugin.PluginSet{"streamer": &streaming.StreamerPlugin{}}
	case "greeter":
		set = plugin.PluginSet{"greeter": &shared.GreeterPlugin{}}
		protocols = []plugin.Protocol{plugin.ProtocolNetRPC}
	}
	return plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  cookie,
		Plugins:          set,
		Cmd:              exec.Command(h.cmd[0], h.cmd[1:]...),
		AllowedProtocols: protocols,
		AutoMTLS:         h.autoMTLS,
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "plugin", Level: hclog.Error, Output: io.Discard}),
	})
}

// load launches one plugin and dispenses its interface (the handshake happens in Client()).
func (h *host) load() (*loaded, error) {
	if len(h.cmd) == 0 {
		return nil, fmt.Errorf("no plugin command given")
	}
	client := h.newClient()
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, err
	}
	var impl any
	switch h.contract {
	case "kv":
		impl, err = kv.DispenseKV(rpc, "kv")
	case "streaming":
		impl, err = streaming.DispenseStreamer(rpc, "streamer")
	case "greeter":
		var raw any
		raw, err = rpc.Dispense("greeter")
		impl = raw
		if _, ok := raw.(shared.Greeter); err == nil && !ok {
			err = fmt.Errorf("greeter plugin dispensed a %T", raw)
		}
	default:
		err = fmt.Errorf("contract %q has no plugin", h.contract)
	}
	if err != nil {
		client.Kill()
		return nil, err
	}
	return &loaded{client: client, impl: impl}, nil
}

// firstCall is the smallest call of the contract: what "launch -> first call done" ends with.
func firstCall(impl any) error {
	ctx := context.Background()
	switch p := impl.(type) {
	case kv.KV:
		_, err := p.Get(ctx, &kv.GetRequest{Key: benchKey})
		return err
	case streaming.Streamer:
		_, err := p.Echo(ctx, &streaming.Event{Body: &streaming.Event_Blob{Blob: benchValue}})
		return err
	case shared.Greeter:
		p.Greet()
		return nil
	}
	return fmt.Errorf("no call for %T", impl)
}

// open loads the plugin the measuring commands use, stores the KV key, and warms the path up.
func (h *host) open() error {
	l, err := h.load()
	if err != nil {
		return err
	}
	h.client = l.client
	switch p := l.impl.(type) {
	case kv.KV:
		h.kv = p
		if _, err := p.Put(context.Background(), &kv.PutRequest{Key: benchKey, Value: benchValue}); err != nil {
			return err
		}
	case streaming.Streamer:
		h.streamer = p
	case shared.Greeter:
		h.greeter = p
	}
	for range 10 {
		if err := firstCall(l.impl); err != nil {
			return err
		}
	}
	return nil
}

func (h *host) close() {
	if h.client != nil {
		h.client.Kill()
	}
}
