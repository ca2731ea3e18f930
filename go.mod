module github.com/opencmq/cmq

go 1.25.0

require (
	github.com/google/btree v1.1.3
	golang.org/x/time v0.15.0
)
