// Command pgclient drives PostgreSQL's extended query protocol for
// scripts/record-postgres.sh: named prepared statements (Parse with a
// name, then Bind/Execute/Sync per run), statements pgx caches under its
// own names, binary result formats, an error raised during Execute, and
// Close. psql 15 has no \bind, so this small pgx program is the client
// whose Parse/Bind/Execute traffic the decoder is tested on. It prints
// each statement it runs and each row it gets, as the client's record.
//
//	pgclient 'postgres://user:pass@127.0.0.1:port/db'
//	pgclient -tls KEYLOG 'postgres://...?sslmode=require'
//
// With -tls it connects over TLS (SSLRequest answered 'S'), writes the
// TLS secrets to KEYLOG in NSS key log format, and runs one statement
// with a parameter, so the capture can be decrypted and decoded.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	switch {
	case len(os.Args) == 2:
		err = run(ctx, os.Args[1])
	case len(os.Args) == 4 && os.Args[1] == "-tls":
		err = runTLS(ctx, os.Args[2], os.Args[3])
	default:
		fmt.Fprintln(os.Stderr, "usage: pgclient [-tls KEYLOG] DSN")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgclient:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("parse DSN: %w", err)
	}
	cfg.RuntimeParams["application_name"] = "pgclient"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)

	const ins = "INSERT INTO items (name, qty) VALUES ($1, $2)"
	const sel = "SELECT id, name, qty FROM items WHERE qty >= $1 ORDER BY id"
	if _, err := conn.Prepare(ctx, "ins_item", ins); err != nil {
		return fmt.Errorf("prepare ins_item: %w", err)
	}
	for i, name := range []string{"bolt", "nut"} {
		tag, err := conn.Exec(ctx, "ins_item", name, 10+i)
		if err != nil {
			return fmt.Errorf("execute ins_item: %w", err)
		}
		fmt.Printf("EXECUTE ins_item (%s, %d): %s\n", name, 10+i, tag)
	}
	if _, err := conn.Prepare(ctx, "sel_items", sel); err != nil {
		return fmt.Errorf("prepare sel_items: %w", err)
	}
	rows, err := conn.Query(ctx, "sel_items", 10)
	if err != nil {
		return fmt.Errorf("query sel_items: %w", err)
	}
	n := 0
	for rows.Next() {
		var id, qty int32
		var name string
		if err := rows.Scan(&id, &name, &qty); err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		fmt.Printf("row %d\t%s\t%d\n", id, name, qty)
		n++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("rows: %w", err)
	}
	fmt.Printf("EXECUTE sel_items (10): %d rows\n", n)

	// An error raised while executing: division by zero in a statement
	// pgx prepares and caches under a name of its own.
	var x int32
	err = conn.QueryRow(ctx, "SELECT 1 / $1::int", 0).Scan(&x)
	fmt.Printf("SELECT 1 / $1::int (0): %v\n", errText(err))
	if err := conn.Deallocate(ctx, "ins_item"); err != nil {
		return fmt.Errorf("deallocate: %w", err)
	}
	fmt.Println("DEALLOCATE ins_item")
	return nil
}

// runTLS runs one statement over TLS, logging the session's secrets.
func runTLS(ctx context.Context, keylog, dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("parse DSN: %w", err)
	}
	if cfg.TLSConfig == nil {
		return fmt.Errorf("the DSN does not ask for TLS (sslmode=require)")
	}
	f, err := os.Create(keylog)
	if err != nil {
		return fmt.Errorf("key log: %w", err)
	}
	defer f.Close()
	cfg.TLSConfig.KeyLogWriter = f
	cfg.Fallbacks = nil
	cfg.RuntimeParams["application_name"] = "pgclient-tls"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, "SELECT 'decrypted ' || $1::text", "fine").Scan(&s); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	fmt.Printf("SELECT 'decrypted ' || $1::text (fine): %s\n", s)
	return nil
}

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return strings.TrimSpace(err.Error())
}
