package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/charter-dev/charter/server"
)

func init() {
	register("demo", "run a server seeded with a small real scenario, for a first look at the console", demoCmd{})
}

type demoCmd struct{}

// demoStep is one CLI command the demo runs, as a user would type it.
type demoStep struct {
	key  string // key file name under the demo's keys folder
	args []string
	save string // remember the value of this JSON field as $NAME
	as   string
}

func (demoCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	env.globalFlags(fs)
	data := fs.String("data", "./charter-demo", "data folder of the demo (made fresh if it does not exist)")
	listen := fs.String("listen", "127.0.0.1:7070", "address to listen on")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	lock, err := lockData(*data, "charter demo")
	if err != nil {
		return err
	}
	defer lock.Release()
	fresh := true
	if _, err := os.Stat(filepath.Join(*data, "catalog.db")); err == nil {
		fresh = false
	}
	// The address first: on a taken one, nothing is opened or seeded.
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return listenError("demo", *listen, err)
	}
	defer l.Close()
	srv, err := server.Open(ctx, server.Config{DataDir: *data, Logger: quietLogger(env), ScrubInterval: -1, SettleInterval: -1})
	if err != nil {
		return err
	}
	defer srv.Close()
	url := "http://" + l.Addr().String()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, l) }()
	if fresh {
		fmt.Fprintf(env.Stderr, "seeding the demo in %s ...\n", *data)
		if err := seedDemo(ctx, env, *data, url); err != nil {
			return fmt.Errorf("seeding the demo: %w", err)
		}
	}
	fmt.Fprintf(env.Stdout, "charter demo serving %s on %s\nopen %s/ in a browser for the console; the demo's keys are in %s\n", *data, url, url, filepath.Join(*data, "demo", "keys"))
	return <-errc
}

// seedDemo runs, through the CLI and the HTTP API a user would use, the
// scenario of the README: a dataset with two contributors under
// commercial-training terms, a model trained on it under a derivative grant
// and passing upstream the 5% those terms ask, a consumer who downloads the
// model under a grant and reports tokens, and a settlement.
func seedDemo(ctx context.Context, parent *Env, data, url string) error {
	dir := filepath.Join(data, "demo")
	keys := filepath.Join(dir, "keys")
	files := map[string]string{
		"corpus/README.md":         "# Demo corpus\nTwo contributors' sentences.\n",
		"corpus/ann/sentences.txt": "The sky over the harbour was the colour of a tuned television.\n",
		"corpus/bea/sentences.txt": "It was a bright cold day in April, and the clocks were striking thirteen.\n",
		"model/weights.bin":        strings.Repeat("demo model weights ", 4096),
		"model/card.md":            "# Demo model\nTrained on the demo corpus.\n",
	}
	for p, s := range files {
		fp := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(fp), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(fp, []byte(s), 0o644); err != nil {
			return err
		}
	}
	vars := map[string]string{}
	run := func(key string, args ...string) (string, error) {
		for i, a := range args {
			for k, v := range vars {
				a = strings.ReplaceAll(a, "$"+k, v)
			}
			args[i] = a
		}
		var out, errb bytes.Buffer
		e := &Env{Server: url, Key: filepath.Join(keys, key), JSON: false, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
		if st := filepath.Join(dir, "state"); true {
			os.Setenv("CHARTER_STATE", st)
		}
		if code := runArgs(ctx, e, args); code != 0 {
			return "", fmt.Errorf("charter %s: %s", strings.Join(args, " "), strings.TrimSpace(errb.String()))
		}
		fmt.Fprintf(parent.Stderr, "  charter %s\n", strings.Join(args, " "))
		return strings.TrimSpace(out.String()), nil
	}
	field := func(out, name string) string {
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == name {
				return f[1]
			}
		}
		return ""
	}
	for _, k := range []string{"ann", "bea", "max", "consumer"} {
		out, err := run(k, "key", "new")
		if err != nil {
			return err
		}
		vars[strings.ToUpper(k)] = out
	}
	out, err := run("ann", "publish", filepath.Join(dir, "corpus"), "--name", "demo-corpus", "--description", "A small dataset by two contributors",
		"--owner", "$ANN=1", "--owner", "$BEA=1", "--cosign", filepath.Join(keys, "bea"),
		"--contributor", "$ANN=60", "--contributor", "$BEA=40", "--license", "commercial-training")
	if err != nil {
		return err
	}
	vars["DS"] = field(out, "asset")
	// Max trains a model on the corpus: he asks for the right to derive
	// (a derivative grant), and the model pays the 5% the corpus's
	// commercial-training terms ask.
	if _, err := run("max", "grant", "request", "$DS", "--purpose", "train", "--derivative", "--commercial"); err != nil {
		return err
	}
	out, err = run("max", "publish", filepath.Join(dir, "model"), "--name", "demo-model", "--description", "A model trained on demo-corpus",
		"--parent", "$DS", "--license", "inference-metered")
	if err != nil {
		return err
	}
	vars["MODEL"] = field(out, "asset")
	if _, err := run("consumer", "get", "$MODEL", "-o", filepath.Join(dir, "downloaded-model"), "--purpose", "infer"); err != nil {
		return err
	}
	if _, err := run("consumer", "grant", "request", "$DS", "--purpose", "evaluate", "--commercial"); err != nil {
		return err
	}
	gl, err := run("consumer", "grant", "list", "--asset", "$MODEL")
	if err != nil {
		return err
	}
	vars["GRANT"] = field(gl, "grant")
	serverKey, err := filepath.Abs(filepath.Join(data, "keys", "server.key"))
	if err != nil {
		return err
	}
	if _, err := run("consumer", "fund", "$CONSUMER", "100", "USD-4", "--key", serverKey); err != nil {
		return err
	}
	if _, err := run("consumer", "usage", "report", "$GRANT", "--tokens", "1234567", "--id", "demo-usage-1"); err != nil {
		return err
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := run("consumer", "settle", "--key", serverKey); err != nil {
		return err
	}
	return nil
}

// listenError says in the user's terms why `charter CMD` cannot listen on
// addr: taken (with the next free port), not allowed, or not an address.
func listenError(cmd, addr string, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("cannot listen on %s: the address is taken (a `charter serve` or a demo?)\nhint: %s", addr, nextFreeHint(cmd, addr))
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("cannot listen on %s: not allowed (ports below 1024 need privileges)\nhint: pick a port above 1024: charter %s --listen 127.0.0.1:7070", addr, cmd)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("cannot listen on %s: no network interface of this machine has that address\nhint: listen on 127.0.0.1 (this machine) or 0.0.0.0 (every interface): charter %s --listen 0.0.0.0:7070", addr, cmd)
	}
	return fmt.Errorf("cannot listen on %q: not a HOST:PORT address\nhint: charter %s --listen 127.0.0.1:7070 (or :7070 for every interface)", addr, cmd)
}

// nextFreeHint offers the next free port after the one addr names.
func nextFreeHint(cmd, addr string) string {
	host, port, err := net.SplitHostPort(addr)
	p, perr := strconv.Atoi(port)
	if err != nil || perr != nil {
		return "pass a free address: charter " + cmd + " --listen 127.0.0.1:7171"
	}
	for q := p + 1; q < p+50 && q < 65536; q++ {
		try := net.JoinHostPort(host, strconv.Itoa(q))
		if l, err := net.Listen("tcp", try); err == nil {
			l.Close()
			return fmt.Sprintf("%s is free: charter %s --listen %s", try, cmd, try)
		}
	}
	return "stop the other server, or pass a free address with --listen"
}
