module github.com/policy-engine-builder/policy-engine

go 1.24
