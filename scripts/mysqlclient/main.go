// Command mysqlclient is the binary-protocol half of scripts/record-mysql.sh:
// it runs prepared statements through go-sql-driver/mysql with
// interpolateParams=false, so the capture holds real COM_STMT_PREPARE,
// COM_STMT_EXECUTE (binary parameters and binary result sets) and
// COM_STMT_CLOSE packets, and prints what it read so the test can compare
// the decoded rows with the client's own view.
//
// It is a separate module so the driver (MPL-2.0) never becomes a
// dependency of tapview itself.
//
//	mysqlclient -dsn 'user:pass@tcp(127.0.0.1:3306)/db'
package main

import (
	"database/sql"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/go-sql-driver/mysql"
)

func main() {
	dsn := flag.String("dsn", "", "go-sql-driver DSN")
	flag.Parse()
	cfg, err := mysql.ParseDSN(*dsn)
	if err != nil {
		log.Fatalf("mysqlclient: bad -dsn: %v", err)
	}
	cfg.InterpolateParams = false
	cfg.AllowNativePasswords = true
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		log.Fatalf("mysqlclient: %v", err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := run(db); err != nil {
		log.Fatalf("mysqlclient: %v", err)
	}
}

func run(db *sql.DB) error {
	st, err := db.Prepare("SELECT id, name, qty FROM pets WHERE id >= ? AND name <> ? ORDER BY id")
	if err != nil {
		return fmt.Errorf("prepare select: %w", err)
	}
	rows, err := st.Query(2, "nobody")
	if err != nil {
		return fmt.Errorf("execute select: %w", err)
	}
	n := 0
	for rows.Next() {
		var id int64
		var qty sql.NullInt64
		var name string
		if err := rows.Scan(&id, &name, &qty); err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		q := "NULL"
		if qty.Valid {
			q = fmt.Sprint(qty.Int64)
		}
		fmt.Fprintf(os.Stdout, "row\t%d\t%s\t%s\n", id, name, q)
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	fmt.Printf("select rows %d\n", n)
	if err := st.Close(); err != nil {
		return fmt.Errorf("close select: %w", err)
	}
	up, err := db.Prepare("UPDATE pets SET qty = qty + ? WHERE id <= ?")
	if err != nil {
		return fmt.Errorf("prepare update: %w", err)
	}
	res, err := up.Exec(5, 2)
	if err != nil {
		return fmt.Errorf("execute update: %w", err)
	}
	aff, _ := res.RowsAffected()
	fmt.Printf("update affected %d\n", aff)
	up.Close()
	// An execution the server refuses: a duplicate primary key.
	ins, err := db.Prepare("INSERT INTO pets (id, name, qty) VALUES (?, ?, ?)")
	if err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	if _, err := ins.Exec(1, "dup", 0); err != nil {
		fmt.Printf("insert error %v\n", err)
	} else {
		return fmt.Errorf("duplicate insert succeeded")
	}
	ins.Close()
	return nil
}
