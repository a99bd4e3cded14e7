// Command yamuxpeer is the real hashicorp/yamux on the far end of goplugin's Python yamux.
//
// It speaks yamux over the connected socket it inherits (-fd, default 3), as a yamux client or server
// with the default configuration (what go-plugin uses), and obeys commands that the Python
// side sends as the first line of each stream it opens:
//
//	echo               copy the rest of the stream back, then close it
//	sink               read to EOF, reply "<bytes> <sha256 hex>"
//	open N SIZE        open N streams at once; on each write SIZE random bytes, close, read the
//	                   echo to EOF and compare; reply "ok" or "error: ..."
//	source SIZE        open one stream, write SIZE random bytes, close it; reply "<sha256 hex>"
//	ping               session.Ping(); reply "ok" or "error: ..."
//	goaway             session.GoAway(); reply "ok"
//	numstreams         reply session.NumStreams()
//	watch NAME         reply "watching", read to the end, remember how it ended ("EOF" or
//	                   the error)
//	result NAME        reply what "watch NAME" saw (waits up to 10 s)
//	close              reply "ok", then close the session
//
// The process exits when the session ends.
package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

var (
	session *yamux.Session
	results sync.Map // NAME -> chan string
)

func main() {
	role := flag.String("role", "server", "yamux role: client or server")
	keepalive := flag.Duration("keepalive", 30*time.Second, "keep-alive interval")
	fd := flag.Int("fd", 3, "inherited file descriptor of the connected socket")
	flag.Parse()
	log.SetPrefix("yamuxpeer: ")

	conn, err := net.FileConn(os.NewFile(uintptr(*fd), "conn"))
	if err != nil {
		log.Fatalf("fd %d: %v", *fd, err)
	}
	cfg := yamux.DefaultConfig()
	cfg.KeepAliveInterval = *keepalive
	if *role == "client" {
		session, err = yamux.Client(conn, cfg)
	} else {
		session, err = yamux.Server(conn, cfg)
	}
	if err != nil {
		log.Fatalf("yamux: %v", err)
	}
	for {
		stream, err := session.AcceptStream()
		if err != nil {
			log.Printf("session ended: %v", err)
			os.Exit(0)
		}
		go serve(stream)
	}
}

func serve(stream *yamux.Stream) {
	r := bufio.NewReader(stream)
	line, err := r.ReadString('\n')
	if err != nil {
		log.Printf("stream %d: no command: %v", stream.StreamID(), err)
		_ = stream.Close()
		return
	}
	args := strings.Fields(line)
	if len(args) == 0 {
		args = []string{""}
	}
	reply := func(format string, a ...any) {
		if _, err := fmt.Fprintf(stream, format+"\n", a...); err != nil {
			log.Printf("stream %d: reply: %v", stream.StreamID(), err)
		}
	}
	defer stream.Close()
	switch args[0] {
	case "echo":
		if _, err := io.Copy(stream, r); err != nil {
			log.Printf("echo on stream %d: %v", stream.StreamID(), err)
		}
	case "sink":
		h := sha256.New()
		n, err := io.Copy(h, r)
		if err != nil {
			reply("error: %v", err)
			return
		}
		reply("%d %s", n, hex.EncodeToString(h.Sum(nil)))
	case "open":
		n, size := atoi(args, 1), atoi(args, 2)
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			go func() { errs <- roundTrip(size) }()
		}
		var first error
		for i := 0; i < n; i++ {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		if first != nil {
			reply("error: %v", first)
		} else {
			reply("ok")
		}
	case "source":
		sum, err := source(atoi(args, 1))
		if err != nil {
			reply("error: %v", err)
		} else {
			reply("%s", sum)
		}
	case "ping":
		if _, err := session.Ping(); err != nil {
			reply("error: %v", err)
		} else {
			reply("ok")
		}
	case "goaway":
		if err := session.GoAway(); err != nil {
			reply("error: %v", err)
		} else {
			reply("ok")
		}
	case "numstreams":
		reply("%d", session.NumStreams())
	case "watch":
		reply("watching")
		_, err := io.Copy(io.Discard, r)
		outcome := "EOF"
		if err != nil {
			outcome = err.Error()
		}
		ch, _ := results.LoadOrStore(args[1], make(chan string, 1))
		ch.(chan string) <- outcome
	case "result":
		ch, _ := results.LoadOrStore(args[1], make(chan string, 1))
		select {
		case outcome := <-ch.(chan string):
			reply("%s", outcome)
		case <-time.After(10 * time.Second):
			reply("timeout")
		}
	case "close":
		reply("ok")
		_ = session.Close()
	default:
		reply("error: unknown command %q", args[0])
	}
}

// roundTrip opens a stream, sends size random bytes, half-closes, and checks the echo.
func roundTrip(size int) error {
	stream, err := session.OpenStream()
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer stream.Close()
	data := make([]byte, size)
	_, _ = rand.Read(data)
	writeErr := make(chan error, 1)
	go func() {
		_, err := stream.Write(data)
		if err == nil {
			err = stream.Close()
		}
		writeErr <- err
	}()
	got, err := io.ReadAll(stream)
	if err != nil {
		return fmt.Errorf("stream %d: read: %w", stream.StreamID(), err)
	}
	if err := <-writeErr; err != nil {
		return fmt.Errorf("stream %d: write: %w", stream.StreamID(), err)
	}
	if !bytes.Equal(got, data) {
		return errors.New("echo differs from what was sent")
	}
	return nil
}

func source(size int) (string, error) {
	stream, err := session.OpenStream()
	if err != nil {
		return "", err
	}
	data := make([]byte, size)
	_, _ = rand.Read(data)
	if _, err := stream.Write(data); err != nil {
		return "", err
	}
	if err := stream.Close(); err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

func atoi(args []string, i int) int {
	if i >= len(args) {
		log.Fatalf("missing argument %d in %q", i, args)
	}
	n, err := strconv.Atoi(args[i])
	if err != nil {
		log.Fatalf("bad number %q", args[i])
	}
	return n
}
