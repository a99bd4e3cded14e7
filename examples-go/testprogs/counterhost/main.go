// Command counterhost is a go-plugin host of the bidirectional counter contract
// (proto/counter, wire-compatible with go-plugin's examples/bidirectional) for the interop
// tests: like that example's host, but with -mux (GRPCBrokerMultiplex) and -automtls flags, so
// brokered callbacks can be tested in every transport mode against any plugin.
//
//	counterhost [-mux] [-automtls] -plugin "command" put KEY N ... get KEY
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

	counter "github.com/goplugin-py/goplugin/examples-go/gen/counter"
)

type adder struct {
	counter.UnimplementedAddHelperServer
}

func (adder) Sum(_ context.Context, req *counter.SumRequest) (*counter.SumResponse, error) {
	return &counter.SumResponse{R: req.A + req.B}, nil
}

// client keeps the broker go-plugin hands to GRPCClient: Put serves the AddHelper callback on it.
type client struct {
	broker *plugin.GRPCBroker
	rpc    counter.CounterClient
}

func (c *client) put(key string, value int64) error {
	id := c.broker.NextId()
	var server *grpc.Server
	started := make(chan struct{})
	go c.broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
		server = grpc.NewServer(opts...)
		counter.RegisterAddHelperServer(server, adder{})
		close(started)
		return server
	})
	_, err := c.rpc.Put(context.Background(), &counter.CounterPutRequest{AddServer: id, Key: key, Value: value})
	<-started
	server.Stop()
	return err
}

type counterPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (counterPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return fmt.Errorf("host only")
}
func (counterPlugin) GRPCClient(_ context.Context, b *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &client{broker: b, rpc: counter.NewCounterClient(c)}, nil
}

func main() {
	cmdline := flag.String("plugin", "", "plugin command line (run with sh -c)")
	mux := flag.Bool("mux", false, "enable gRPC broker multiplexing")
	autoMTLS := flag.Bool("automtls", false, "enable go-plugin AutoMTLS")
	flag.Parse()
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:     plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "BASIC_PLUGIN", MagicCookieValue: "hello"},
		Plugins:             plugin.PluginSet{"counter": counterPlugin{}},
		Cmd:                 exec.Command("sh", "-c", *cmdline),
		AllowedProtocols:    []plugin.Protocol{plugin.ProtocolGRPC},
		GRPCBrokerMultiplex: *mux,
		AutoMTLS:            *autoMTLS,
		Logger:              hclog.New(&hclog.LoggerOptions{Name: "counterhost", Level: hclog.Debug, Output: os.Stderr}),
	})
	defer pc.Kill()
	if err := run(pc, flag.Args()); err != nil {
		fmt.Printf("error: %v\n", err)
		pc.Kill()
		os.Exit(1)
	}
}

func run(pc *plugin.Client, args []string) error {
	rpc, err := pc.Client()
	if err != nil {
		return err
	}
	raw, err := rpc.Dispense("counter")
	if err != nil {
		return err
	}
	c := raw.(*client)
	for len(args) > 0 {
		switch args[0] {
		case "put":
			n, err := strconv.ParseInt(args[2], 10, 64)
			if err != nil {
				return err
			}
			if err := c.put(args[1], n); err != nil {
				return err
			}
			args = args[3:]
		case "get":
			resp, err := c.rpc.Get(context.Background(), &counter.CounterGetRequest{Key: args[1]})
			if err != nil {
				return err
			}
			fmt.Printf("%s=%d\n", args[1], resp.Value)
			args = args[2:]
		default:
			return fmt.Errorf("unknown command %q", args[0])
		}
	}
	return nil
}
