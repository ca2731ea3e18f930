module github.com/opencmq/cmq/benchmarks

go 1.25.0

replace github.com/opencmq/cmq => ../

require (
	github.com/mattn/go-sqlite3 v1.14.28
	github.com/opencmq/cmq v0.0.0-00010101000000-000000000000
	maragu.dev/goqite v0.4.0
)

require (
	github.com/google/btree v1.1.3 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	golang.org/x/time v0.15.0 // indirect
)
