// Command kv-host loads a KV plugin (Go or Python) and runs one operation:
//
//	kv-host "<plugin command>" put KEY VALUE
//	kv-host "<plugin command>" get KEY
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/goplugin-py/goplugin/examples-go/gen/kv"
)

func run(args []string) error {
	if len(args) < 3 {
		return fmt.Errorf(`usage: kv-host "<plugin command>" put KEY VALUE | get KEY`)
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion: 1, MagicCookieKey: "BASIC_PLUGIN", MagicCookieValue: "hello",
		},
		Plugins:          plugin.PluginSet{"kv": &kv.KVPlugin{}},
		Cmd:              exec.Command("sh", "-c", args[0]),
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
	switch {
	case args[1] == "put" && len(args) == 4:
		_, err = store.Put(ctx, &kv.PutRequest{Key: args[2], Value: []byte(args[3])})
		return err
	case args[1] == "get":
		resp, err := store.Get(ctx, &kv.GetRequest{Key: args[2]})
		if err != nil {
			return err
		}
		fmt.Println(string(resp.Value))
		return nil
	}
	return fmt.Errorf("unknown operation %q", args[1])
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kv-host:", err)
		os.Exit(1)
	}
}
