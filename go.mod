module github.com/opencmq/cmq

go 1.25.0

require (
	github.com/google/btree v1.1.3
	golang.org/x/sync v0.22.0
	golang.org/x/time v0.15.0
)

require (
	github.com/stretchr/testify v1.12.1
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
