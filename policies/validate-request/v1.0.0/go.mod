module github.com/policy-engine-builder/policies/validate-request/v1.0.0

go 1.26.0

require (
	github.com/policy-engine-builder/policy-engine v0.0.0-00010101000000-000000000000
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3
	golang.org/x/text v0.44.0
)
