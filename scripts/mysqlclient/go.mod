module github.com/tapview/tapview/scripts/mysqlclient

go 1.26.8

require github.com/go-sql-driver/mysql v1.11.0

require filippo.io/edwards25519 v1.2.0 // indirect
