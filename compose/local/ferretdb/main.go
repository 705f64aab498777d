// Command iotpipe-ferretdb runs FerretDB (MongoDB wire protocol) on its SQLite backend
// for iotpipe's local stack.
//
// It embeds FerretDB as a library instead of building FerretDB's own CLI, because the
// module zip on the Go proxy lacks the generated build/version files that the CLI
// needs at start-up. `iotpipe stack up` builds it once (cached) and runs it as a
// process; SIGTERM or SIGINT stops it cleanly.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listenAddr := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	dataDir := flag.String("sqlite-dir", "data", "directory holding the SQLite databases")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn or error")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "invalid --log-level %q: %v\n", *logLevel, err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	dir, err := filepath.Abs(*dataDir)
	if err == nil {
		err = os.MkdirAll(dir, 0o750)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot prepare --sqlite-dir %q: %v\n", *dataDir, err)
		os.Exit(1)
	}

	db, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listenAddr},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot start FerretDB: %v\n", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	logger.Warn("FerretDB listening", "addr", *listenAddr, "sqlite", dir)
	if err := db.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "FerretDB stopped: %v\n", err)
		os.Exit(1)
	}
}
