module github.com/policy-engine-builder/policies/ip-filter/v1.0.0

go 1.26.0

require github.com/policy-engine-builder/policy-engine v0.0.0-00010101000000-000000000000
