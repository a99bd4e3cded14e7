// Command tfreattach is a Terraform-style go-plugin host for the interop tests. It finds its
// plugin the way Terraform finds a provider under development: in the environment variable
// TF_REATTACH_PROVIDERS, a JSON map from provider address to go-plugin reattach config. It reads
// that map into the field layout Terraform's reattach parser uses, checks each address with
// terraform-registry-address (the parser Terraform's provider addresses go through), reattaches
// with go-plugin, and runs a KV put then get:
//
//	TF_REATTACH_PROVIDERS='...' tfreattach ADDRESS KEY VALUE
//
// It prints "value=<what get returned>" and leaves the plugin running (a reattached plugin in
// test mode is not ours to stop).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	tfaddr "github.com/hashicorp/terraform-registry-address"

	"github.com/goplugin-py/goplugin/examples-go/gen/kv"
)

// entry is one value of TF_REATTACH_PROVIDERS, with the fields Terraform reads.
type entry struct {
	Protocol        string
	ProtocolVersion int
	Addr            struct {
		Network string
		String  string
	}
	Pid  int
	Test bool
}

func reattachConfigs(raw string) (map[string]*plugin.ReattachConfig, error) {
	var entries map[string]entry
	if err := json.Unmarshal([]byte(raw), &entries); err != nil {
		return nil, fmt.Errorf("invalid format for TF_REATTACH_PROVIDERS: %w", err)
	}
	configs := map[string]*plugin.ReattachConfig{}
	for address, e := range entries {
		provider, err := tfaddr.ParseProviderSource(address)
		if err != nil {
			return nil, fmt.Errorf("error parsing %q as a provider address: %w", address, err)
		}
		var addr net.Addr
		switch e.Addr.Network {
		case "unix":
			addr, err = net.ResolveUnixAddr("unix", e.Addr.String)
		case "tcp":
			addr, err = net.ResolveTCPAddr("tcp", e.Addr.String)
		default:
			err = fmt.Errorf("unknown address type %q", e.Addr.Network)
		}
		if err != nil {
			return nil, fmt.Errorf("address of %q: %w", address, err)
		}
		configs[provider.String()] = &plugin.ReattachConfig{
			Protocol:        plugin.Protocol(e.Protocol),
			ProtocolVersion: e.ProtocolVersion,
			Addr:            addr,
			Pid:             e.Pid,
			Test:            e.Test,
		}
	}
	return configs, nil
}

func run(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: TF_REATTACH_PROVIDERS=... tfreattach ADDRESS KEY VALUE")
	}
	configs, err := reattachConfigs(os.Getenv("TF_REATTACH_PROVIDERS"))
	if err != nil {
		return err
	}
	provider, err := tfaddr.ParseProviderSource(args[0])
	if err != nil {
		return err
	}
	config, ok := configs[provider.String()]
	if !ok {
		return fmt.Errorf("TF_REATTACH_PROVIDERS has no provider %s", provider)
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion: 1, MagicCookieKey: "BASIC_PLUGIN", MagicCookieValue: "hello",
		},
		Plugins:          plugin.PluginSet{"kv": &kv.KVPlugin{}},
		Reattach:         config,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "plugin", Level: hclog.Warn}),
	})
	defer client.Kill()
	rpc, err := client.Client()
	if err != nil {
		return err
	}
	store, err := kv.DispenseKV(rpc, "kv")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := store.Put(ctx, &kv.PutRequest{Key: args[1], Value: []byte(args[2])}); err != nil {
		return err
	}
	resp, err := store.Get(ctx, &kv.GetRequest{Key: args[1]})
	if err != nil {
		return err
	}
	fmt.Printf("value=%s\n", resp.Value)
	return nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "tfreattach:", err)
		os.Exit(1)
	}
}
