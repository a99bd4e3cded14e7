// Command mtlshost is a go-plugin host with AutoMTLS on, as Terraform, OpenTofu and Vault
// run their plugins: it launches the command given as arguments, then calls the plugin's
// proto.KV service (proto/kv/kv.proto) with grpc's generic Invoke and hand-encoded
// messages, and prints what it learnt about the TLS connection.
//
// Output on success (stdout): "tls <version> alpn=<proto> peer=<curve>", "get <value>", "ok".
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/encoding/protowire"
)

type kvPlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (kvPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("mtlshost is a host only")
}

func (kvPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (interface{}, error) {
	return c, nil
}

// rawCodec passes pre-encoded protobuf bytes through; named "proto" so the content type
// stays application/grpc+proto.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) { return *v.(*[]byte), nil }
func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	*v.(*[]byte) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "mtlshost: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: mtlshost plugin-command [args...]")
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion:  1,
			MagicCookieKey:   "BASIC_PLUGIN",
			MagicCookieValue: "hello",
		},
		Plugins:          map[string]plugin.Plugin{"kv": kvPlugin{}},
		Cmd:              exec.Command(os.Args[1], os.Args[2:]...),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: "mtlshost", Output: os.Stderr, Level: hclog.Debug,
		}),
	})
	defer client.Kill()

	rpcClient, err := client.Client()
	if err != nil {
		fail("starting the plugin: %v", err)
	}
	if err := rpcClient.Ping(); err != nil {
		fail("ping: %v", err)
	}
	raw, err := rpcClient.Dispense("kv")
	if err != nil {
		fail("dispense: %v", err)
	}
	conn := raw.(*grpc.ClientConn)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	codec := grpc.ForceCodec(rawCodec{})

	put := protowire.AppendTag(nil, 1, protowire.BytesType)
	put = protowire.AppendString(put, "greeting")
	put = protowire.AppendTag(put, 2, protowire.BytesType)
	put = protowire.AppendBytes(put, []byte("hello from a Go host"))
	var empty []byte
	var who peer.Peer
	if err := conn.Invoke(ctx, "/proto.KV/Put", &put, &empty, codec, grpc.Peer(&who)); err != nil {
		fail("Put: %v", err)
	}
	tlsInfo, ok := who.AuthInfo.(credentials.TLSInfo)
	if !ok {
		fail("the connection is not TLS: %T", who.AuthInfo)
	}
	state := tlsInfo.State
	curve := "?"
	if len(state.PeerCertificates) > 0 {
		if key, ok := state.PeerCertificates[0].PublicKey.(*ecdsa.PublicKey); ok {
			curve = key.Curve.Params().Name
		}
	}
	fmt.Printf("tls %s alpn=%s peer=%s\n", tls.VersionName(state.Version), state.NegotiatedProtocol, curve)

	get := protowire.AppendTag(nil, 1, protowire.BytesType)
	get = protowire.AppendString(get, "greeting")
	var reply []byte
	if err := conn.Invoke(ctx, "/proto.KV/Get", &get, &reply, codec); err != nil {
		fail("Get: %v", err)
	}
	num, typ, n := protowire.ConsumeTag(reply)
	if n < 0 || num != 1 || typ != protowire.BytesType {
		fail("Get: unexpected reply %x", reply)
	}
	value, m := protowire.ConsumeBytes(reply[n:])
	if m < 0 {
		fail("Get: truncated reply %x", reply)
	}
	fmt.Printf("get %s\n", value)
	fmt.Println("ok")
}
