// Command counter-host loads a plugin of proto/counter/counter.proto (Go or Python) and serves
// it the AddHelper callback over the GRPCBroker, from generated glue. -mux and -automtls turn
// on go-plugin's GRPCBrokerMultiplex and AutoMTLS.
//
//	counter-host [-mux] [-automtls] -plugin "command" put KEY N ... get KEY
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/goplugin-py/goplugin/examples-go/gen/counter"
)

type adder struct{}

func (adder) Sum(_ context.Context, req *counter.SumRequest) (*counter.SumResponse, error) {
	return &counter.SumResponse{R: req.A + req.B}, nil
}

// put serves the callback under a fresh broker id while the plugin's Put runs.
func put(c counter.Counter, key string, value int64) error {
	broker := counter.CounterBroker(c)
	id := broker.NextId()
	helper := &counter.AddHelperPlugin{Impl: adder{}}
	servers := make(chan *grpc.Server, 1)
	go broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
		server := grpc.NewServer(opts...)
		_ = helper.GRPCServer(broker, server)
		servers <- server
		return server
	})
	_, err := c.Put(context.Background(), &counter.CounterPutRequest{AddServer: id, Key: key, Value: value})
	(<-servers).Stop()
	return err
}

func main() {
	cmdline := flag.String("plugin", "", "plugin command line (run with sh -c)")
	mux := flag.Bool("mux", false, "multiplex brokered connections over the plugin connection")
	autoMTLS := flag.Bool("automtls", false, "mutual TLS with generated certificates")
	flag.Parse()
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:     plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "BASIC_PLUGIN", MagicCookieValue: "hello"},
		Plugins:             plugin.PluginSet{"counter": &counter.CounterPlugin{}},
		Cmd:                 exec.Command("sh", "-c", *cmdline),
		AllowedProtocols:    []plugin.Protocol{plugin.ProtocolGRPC},
		GRPCBrokerMultiplex: *mux,
		AutoMTLS:            *autoMTLS,
		Logger:              hclog.New(&hclog.LoggerOptions{Name: "counter-host", Level: hclog.Debug, Output: os.Stderr}),
	})
	defer client.Kill()
	if err := run(client, flag.Args()); err != nil {
		fmt.Printf("error: %v\n", err)
		client.Kill()
		os.Exit(1)
	}
}

func run(client *plugin.Client, args []string) error {
	rpc, err := client.Client()
	if err != nil {
		return err
	}
	c, err := counter.DispenseCounter(rpc, "counter")
	if err != nil {
		return err
	}
	for len(args) > 0 {
		switch {
		case args[0] == "put" && len(args) >= 3:
			n, err := strconv.ParseInt(args[2], 10, 64)
			if err != nil {
				return err
			}
			if err := put(c, args[1], n); err != nil {
				return err
			}
			args = args[3:]
		case args[0] == "get" && len(args) >= 2:
			resp, err := c.Get(context.Background(), &counter.CounterGetRequest{Key: args[1]})
			if err != nil {
				return err
			}
			fmt.Printf("%s=%d\n", args[1], resp.Value)
			args = args[2:]
		default:
			return fmt.Errorf("usage: counter-host [-mux] [-automtls] -plugin CMD put KEY N | get KEY ...")
		}
	}
	return nil
}
