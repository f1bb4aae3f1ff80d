module github.com/policy-engine-builder/e2e-policies/fault/v1.0.0

go 1.24

require github.com/policy-engine-builder/policy-engine v0.0.0-00010101000000-000000000000
